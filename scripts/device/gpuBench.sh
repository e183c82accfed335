#!/usr/bin/env bash
# `npm run bench:gpu` on a lent GPU machine (the `device` tool: an H100/H200 with no Node and,
# maybe, no Vulkan loader; nothing can be fetched there). Two steps:
#
#   here:   bash scripts/device/gpuBench.sh prepare
#           packs .node-carry/ (this Node, the compiled build, the runtime packages with dawn.node
#           for linux-x64) and .gl/ (the Vulkan loader and the GLVND libraries the NVIDIA driver
#           loads, as Debian packages), both ignored by git: ~45 MiB
#   there:  the device tool's run with carry [".node-carry", ".gl"] and the command
#           bash scripts/device/gpuBench.sh run [benchGpu options, e.g. --scale 1 --reps 20]
#           writes $OUT/gpu.json (rewritten after each section, so a run cut short still brings
#           back what it measured), $OUT/log.txt and $OUT/env.txt (GPU, driver, Vulkan ICD)
#
# PARQUETSEEK_DAWN_FEATURES=disable_workgroup_init before `run` measures the kernels with Dawn's
# workgroup zeroing off (what it costs; a browser always zeroes): gpu.json then says so
# (dawnFeatures).
#
# Tested here on SwiftShader with OUT=/tmp/out and `run --scale 0.001`.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
prepare)
  npm run build:node
  rm -rf .node-carry && mkdir -p .node-carry
  xz -T0 -6 -c "$(command -v node)" >.node-carry/node.xz
  # what build/scripts/benchGpu.js loads (these packages and what they depend on); dawn.node for
  # linux-x64 only
  mapfile -t packages < <(node -e '
    const seen = new Set(), todo = ["webgpu", "hyparquet", "hyparquet-compressors", "hyparquet-writer", "comlink"]
    while (todo.length) {
      const name = todo.pop()
      if (seen.has(name)) continue
      seen.add(name)
      todo.push(...Object.keys(require(`./node_modules/${name}/package.json`).dependencies ?? {}))
    }
    for (const name of seen) console.log(`node_modules/${name}`)')
  tar -c --exclude='node_modules/webgpu/dist/*' package.json build "${packages[@]}" | xz -T0 -6 >.node-carry/app.tar.xz
  xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >.node-carry/dawn.node.xz
  rm -rf .gl && mkdir -p .gl /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
  du -sh .node-carry .gl
  ;;
run)
  shift
  : "${OUT:?OUT is unset: run this through the device tool (or set OUT to test it here)}"
  ldconfig -p | grep -q 'libvulkan.so.1' || {
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  }
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES="$icd" __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  { nvidia-smi 2>&1 || echo 'no nvidia-smi'; echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"; } >"$OUT/env.txt"
  app=$(mktemp -d)
  xz -dc .node-carry/node.xz >"$app/node" && chmod +x "$app/node"
  tar -xJf .node-carry/app.tar.xz -C "$app"
  mkdir -p "$app/node_modules/webgpu/dist/linux-x64"
  xz -dc .node-carry/dawn.node.xz >"$app/node_modules/webgpu/dist/linux-x64/dawn.node"
  cd "$app"
  set -o pipefail
  ./node --max-old-space-size=65536 build/scripts/benchGpu.js --json "$OUT/gpu.json" "$@" 2>&1 | tee "$OUT/log.txt"
  ;;
*)
  echo "usage: $0 prepare | run [benchGpu options]" >&2
  exit 2
  ;;
esac
