{
  # Native addons. `npm install` runs scripts/build-native.mjs, which builds these with node-gyp
  # (g++ only, no network: npm's nodedir points node-gyp at the installed headers).
  # sparselab_cpu: every lib/backends/cpu/native/*.cc. The per-ISA kernels (isa_*.cc) select their
  # instruction set with `#pragma GCC target` inside the file, so the whole addon is compiled
  # with the baseline flags and the best kernel set is picked once at load time.
  # sparselab_cuda: the CUDA shim (lib/backends/cuda/native/addon.cc). It opens libcuda and
  # NVRTC with dlopen at run time, so it builds with g++ alone and loads on machines without CUDA.
  "targets": [
    {
      "target_name": "sparselab_cpu",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('lib/backends/cpu/native').filter(f=>f.endsWith('.cc')).sort().map(f=>'lib/backends/cpu/native/'+f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions", "-O3", "-ffp-contract=fast", "-Wall", "-Wno-unused-function"],
      "ldflags": ["-pthread"],
      "cflags": ["-pthread"]
    },
    {
      "target_name": "sparselab_cuda",
      "sources": ["lib/backends/cuda/native/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions", "-O2", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
