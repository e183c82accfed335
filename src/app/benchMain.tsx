import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { GpuBenchPage } from './GpuBenchPage.js'
import './style.css'

const root = document.getElementById('root')
if (!root) throw new Error('bench.html has no #root')
createRoot(root).render(
  <StrictMode>
    <GpuBenchPage />
  </StrictMode>,
)
