import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { registerUseLiteWeb } from '../encode/useLiteWeb.js'
import { App } from './App.js'
import './style.css'

// the page offers text search on files embedded with use-lite-512 (the worker loads the model,
// from this site, on the first such query)
registerUseLiteWeb(new URL('./', document.baseURI).href)

const root = document.getElementById('root')
if (!root) throw new Error('index.html has no #root')
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
