// sparselab_cuda: a thin shim over the CUDA driver API and NVRTC, both opened at run time with
// dlopen so that building this addon needs g++ alone and a machine without CUDA loads it fine
// (init() then throws, saying why, and the JS backend takes over).
//
// Everything policy-like (caching, allocation pools, kernel choice) lives in TypeScript; this
// file only turns calls into driver calls and driver errors into JS exceptions that name the
// call and the error. Device pointers cross into JS as doubles: 64-bit device addresses in
// practice stay far below 2^53, and we check.
#include <napi.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---- the few driver and NVRTC types and entry points we use (ABI-stable C declarations) ----
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;
typedef unsigned long long CUdeviceptr;
// CUtensorMap: 128 opaque bytes the driver fills and kernels take by value (64-byte aligned).
struct alignas(64) CUtensorMap { unsigned long long opaque[16]; };
static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");
typedef int nvrtcResult;
typedef struct _nvrtcProgram* nvrtcProgram;

enum {
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
  CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
};

struct Driver {
  void* lib = nullptr;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t);
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
  CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuMemGetInfo)(size_t*, size_t*);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  // Streams, async copies, pinned host memory (all in every driver since CUDA 4).
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamQuery)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventQuery)(CUevent);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuMemHostAlloc)(void**, size_t, unsigned);
  CUresult (*cuMemFreeHost)(void*);
  // Optional (CUDA 12+, Hopper's TMA): null on older drivers, and only tensorMap() then fails.
  CUresult (*cuTensorMapEncodeTiled)(CUtensorMap*, int, unsigned, void*, const unsigned long long*,
                                     const unsigned long long*, const unsigned*, const unsigned*, int, int, int,
                                     int) = nullptr;
};

struct Nvrtc {
  void* lib = nullptr;
  nvrtcResult (*nvrtcVersion)(int*, int*);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                                    const char* const*);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
  const char* (*nvrtcGetErrorString)(nvrtcResult);
};

Driver drv;
Nvrtc rtc;
CUcontext ctx = nullptr;
CUdevice dev = 0;
bool sticky = false;          // a sticky error poisons the context until the process restarts
std::string stickyWhat;
std::vector<CUmodule> modules;
std::vector<CUfunction> functions;
std::vector<CUevent> events;    // by id; a destroyed event's slot is null and its id reused
std::vector<uint32_t> freeEventIds;
std::vector<CUstream> streams{nullptr};  // id 0 is the legacy default stream; a destroyed one's slot is null

template <typename T>
bool sym(void* lib, const char* name, T& out) {
  out = reinterpret_cast<T>(dlsym(lib, name));
  return out != nullptr;
}

std::string cuErr(CUresult r) {
  const char* name = "CUDA_ERROR_UNKNOWN";
  const char* str = "";
  if (drv.cuGetErrorName) drv.cuGetErrorName(r, &name);
  if (drv.cuGetErrorString) drv.cuGetErrorString(r, &str);
  return std::string(name ? name : "?") + " (" + (str ? str : "") + ")";
}

bool isSticky(CUresult r) {
  // Errors after which the context cannot be used again (CUDA driver API docs): illegal address,
  // launch timeout, hardware stack error, illegal instruction, misaligned address, invalid
  // address space, invalid PC, launch failed.
  return r == 700 || r == 702 || r == 714 || r == 715 || r == 716 || r == 717 || r == 718 || r == 719;
}

void check(Napi::Env env, CUresult r, const char* call) {
  if (r == 0) return;
  std::string msg = std::string(call) + " failed: " + cuErr(r);
  if (isSticky(r)) {
    sticky = true;
    stickyWhat = msg;
    msg += ". The CUDA context is now unusable (a sticky error); restart the kernel to use the GPU again. "
           "CPU and JS backends keep working.";
  }
  throw Napi::Error::New(env, "[sparselab cuda] " + msg);
}

void needCtx(Napi::Env env) {
  if (!ctx) throw Napi::Error::New(env, "[sparselab cuda] not initialised: call init() first");
  if (sticky)
    throw Napi::Error::New(env, "[sparselab cuda] the CUDA context hit a sticky error earlier (" + stickyWhat +
                                    "); restart the kernel to use the GPU again");
}

double ptrOut(CUdeviceptr p) { return static_cast<double>(p); }
CUdeviceptr ptrIn(const Napi::Value& v) { return static_cast<CUdeviceptr>(v.As<Napi::Number>().DoubleValue()); }

// ---- init: open the libraries, pick device 0, retain its primary context ----
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!drv.lib) {
    const char* names[] = {"libcuda.so.1", "libcuda.so"};
    for (const char* n : names)
      if ((drv.lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
    if (!drv.lib) throw Napi::Error::New(env, std::string("no CUDA driver: dlopen(libcuda.so.1) failed: ") + dlerror());
    bool ok = sym(drv.lib, "cuInit", drv.cuInit) && sym(drv.lib, "cuDriverGetVersion", drv.cuDriverGetVersion) &&
              sym(drv.lib, "cuDeviceGet", drv.cuDeviceGet) && sym(drv.lib, "cuDeviceGetCount", drv.cuDeviceGetCount) &&
              sym(drv.lib, "cuDeviceGetName", drv.cuDeviceGetName) &&
              sym(drv.lib, "cuDeviceGetAttribute", drv.cuDeviceGetAttribute) &&
              sym(drv.lib, "cuDeviceTotalMem_v2", drv.cuDeviceTotalMem) &&
              sym(drv.lib, "cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain) &&
              sym(drv.lib, "cuCtxSetCurrent", drv.cuCtxSetCurrent) && sym(drv.lib, "cuCtxSynchronize", drv.cuCtxSynchronize) &&
              sym(drv.lib, "cuModuleLoadData", drv.cuModuleLoadData) && sym(drv.lib, "cuModuleUnload", drv.cuModuleUnload) &&
              sym(drv.lib, "cuModuleGetFunction", drv.cuModuleGetFunction) &&
              sym(drv.lib, "cuFuncSetAttribute", drv.cuFuncSetAttribute) &&
              sym(drv.lib, "cuFuncGetAttribute", drv.cuFuncGetAttribute) &&
              sym(drv.lib, "cuLaunchKernel", drv.cuLaunchKernel) && sym(drv.lib, "cuMemAlloc_v2", drv.cuMemAlloc) &&
              sym(drv.lib, "cuMemFree_v2", drv.cuMemFree) && sym(drv.lib, "cuMemcpyHtoD_v2", drv.cuMemcpyHtoD) &&
              sym(drv.lib, "cuMemcpyDtoH_v2", drv.cuMemcpyDtoH) && sym(drv.lib, "cuMemcpyDtoD_v2", drv.cuMemcpyDtoD) &&
              sym(drv.lib, "cuMemsetD8_v2", drv.cuMemsetD8) && sym(drv.lib, "cuMemGetInfo_v2", drv.cuMemGetInfo) &&
              sym(drv.lib, "cuEventCreate", drv.cuEventCreate) && sym(drv.lib, "cuEventRecord", drv.cuEventRecord) &&
              sym(drv.lib, "cuEventSynchronize", drv.cuEventSynchronize) &&
              sym(drv.lib, "cuEventElapsedTime", drv.cuEventElapsedTime) &&
              sym(drv.lib, "cuEventDestroy_v2", drv.cuEventDestroy) && sym(drv.lib, "cuGetErrorName", drv.cuGetErrorName) &&
              sym(drv.lib, "cuGetErrorString", drv.cuGetErrorString) &&
              sym(drv.lib, "cuStreamCreate", drv.cuStreamCreate) &&
              sym(drv.lib, "cuStreamDestroy_v2", drv.cuStreamDestroy) &&
              sym(drv.lib, "cuStreamSynchronize", drv.cuStreamSynchronize) &&
              sym(drv.lib, "cuStreamQuery", drv.cuStreamQuery) && sym(drv.lib, "cuStreamWaitEvent", drv.cuStreamWaitEvent) &&
              sym(drv.lib, "cuEventQuery", drv.cuEventQuery) &&
              sym(drv.lib, "cuMemcpyHtoDAsync_v2", drv.cuMemcpyHtoDAsync) &&
              sym(drv.lib, "cuMemcpyDtoHAsync_v2", drv.cuMemcpyDtoHAsync) &&
              sym(drv.lib, "cuMemsetD8Async", drv.cuMemsetD8Async) && sym(drv.lib, "cuMemHostAlloc", drv.cuMemHostAlloc) &&
              sym(drv.lib, "cuMemFreeHost", drv.cuMemFreeHost);
    // Absent before CUDA 12: leave it null, so init still succeeds and tensorMap() says why.
    sym(drv.lib, "cuTensorMapEncodeTiled", drv.cuTensorMapEncodeTiled);
    if (!ok) {
      dlclose(drv.lib);
      drv.lib = nullptr;
      throw Napi::Error::New(env, "the CUDA driver library lacks an entry point sparselab needs (driver too old?)");
    }
  }
  if (!rtc.lib) {
    const char* names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"};
    for (const char* n : names)
      if ((rtc.lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
    if (!rtc.lib) {
      const char* more[] = {"/usr/local/cuda/lib64/libnvrtc.so", "/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so"};
      for (const char* n : more)
        if ((rtc.lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!rtc.lib) throw Napi::Error::New(env, std::string("no NVRTC: dlopen(libnvrtc.so) failed: ") + dlerror());
    bool ok = sym(rtc.lib, "nvrtcVersion", rtc.nvrtcVersion) && sym(rtc.lib, "nvrtcCreateProgram", rtc.nvrtcCreateProgram) &&
              sym(rtc.lib, "nvrtcCompileProgram", rtc.nvrtcCompileProgram) &&
              sym(rtc.lib, "nvrtcGetProgramLogSize", rtc.nvrtcGetProgramLogSize) &&
              sym(rtc.lib, "nvrtcGetProgramLog", rtc.nvrtcGetProgramLog) &&
              sym(rtc.lib, "nvrtcGetCUBINSize", rtc.nvrtcGetCUBINSize) && sym(rtc.lib, "nvrtcGetCUBIN", rtc.nvrtcGetCUBIN) &&
              sym(rtc.lib, "nvrtcGetPTXSize", rtc.nvrtcGetPTXSize) && sym(rtc.lib, "nvrtcGetPTX", rtc.nvrtcGetPTX) &&
              sym(rtc.lib, "nvrtcDestroyProgram", rtc.nvrtcDestroyProgram) &&
              sym(rtc.lib, "nvrtcGetErrorString", rtc.nvrtcGetErrorString);
    if (!ok) {
      dlclose(rtc.lib);
      rtc.lib = nullptr;
      throw Napi::Error::New(env, "the NVRTC library lacks an entry point sparselab needs");
    }
  }
  if (!ctx) {
    check(env, drv.cuInit(0), "cuInit");
    int count = 0;
    check(env, drv.cuDeviceGetCount(&count), "cuDeviceGetCount");
    if (count < 1) throw Napi::Error::New(env, "the CUDA driver sees no GPU");
    check(env, drv.cuDeviceGet(&dev, 0), "cuDeviceGet");
    check(env, drv.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  }
  check(env, drv.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  char name[256] = {0};
  drv.cuDeviceGetName(name, sizeof(name), dev);
  int major = 0, minor = 0, sms = 0, smem = 0, dver = 0, rmaj = 0, rmin = 0;
  size_t total = 0;
  drv.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  drv.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  drv.cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
  drv.cuDeviceGetAttribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev);
  drv.cuDeviceTotalMem(&total, dev);
  drv.cuDriverGetVersion(&dver);
  rtc.nvrtcVersion(&rmaj, &rmin);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", std::string(name));
  o.Set("major", major);
  o.Set("minor", minor);
  o.Set("multiprocessors", sms);
  o.Set("sharedMemOptin", smem);
  o.Set("totalMem", static_cast<double>(total));
  o.Set("driverVersion", dver);
  o.Set("nvrtcVersion", std::to_string(rmaj) + "." + std::to_string(rmin));
  o.Set("tensorMaps", drv.cuTensorMapEncodeTiled != nullptr);
  return o;
}

// compile(source, programName, options[]) -> { cubin: Buffer, ptx: string|undefined, log }
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!rtc.lib) throw Napi::Error::New(env, "[sparselab cuda] NVRTC not loaded: call init() first");
  std::string src = info[0].As<Napi::String>();
  std::string pname = info[1].As<Napi::String>();
  Napi::Array arr = info[2].As<Napi::Array>();
  bool wantPtx = info.Length() > 3 && info[3].ToBoolean();
  std::vector<std::string> opts;
  for (uint32_t i = 0; i < arr.Length(); i++) opts.push_back(arr.Get(i).As<Napi::String>());
  std::vector<const char*> copts;
  for (auto& s : opts) copts.push_back(s.c_str());
  nvrtcProgram prog;
  nvrtcResult r = rtc.nvrtcCreateProgram(&prog, src.c_str(), pname.c_str(), 0, nullptr, nullptr);
  if (r != 0) throw Napi::Error::New(env, std::string("[sparselab cuda] nvrtcCreateProgram failed: ") + rtc.nvrtcGetErrorString(r));
  r = rtc.nvrtcCompileProgram(prog, static_cast<int>(copts.size()), copts.data());
  size_t logSize = 0;
  rtc.nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize) rtc.nvrtcGetProgramLog(prog, &log[0]);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (r != 0) {
    rtc.nvrtcDestroyProgram(&prog);
    Napi::Error e = Napi::Error::New(env, std::string("[sparselab cuda] NVRTC could not compile ") + pname + ": " +
                                              rtc.nvrtcGetErrorString(r) + "\n" + log);
    e.Set("log", log);
    throw e;
  }
  size_t n = 0;
  rtc.nvrtcGetCUBINSize(prog, &n);
  Napi::Buffer<char> cubin = Napi::Buffer<char>::New(env, n);
  rtc.nvrtcGetCUBIN(prog, cubin.Data());
  Napi::Object o = Napi::Object::New(env);
  o.Set("cubin", cubin);
  o.Set("log", log);
  if (wantPtx) {
    size_t pn = 0;
    if (rtc.nvrtcGetPTXSize(prog, &pn) == 0 && pn > 0) {
      std::string ptx(pn, '\0');
      rtc.nvrtcGetPTX(prog, &ptx[0]);
      o.Set("ptx", ptx);
    }
  }
  rtc.nvrtcDestroyProgram(&prog);
  return o;
}

Napi::Value ModuleLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
  CUmodule m;
  check(env, drv.cuModuleLoadData(&m, b.Data()), "cuModuleLoadData");
  modules.push_back(m);
  return Napi::Number::New(env, static_cast<double>(modules.size() - 1));
}

// getFunction(module, name, maxDynamicSmem) -> { id, regs, localBytes }
Napi::Value GetFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  uint32_t mid = info[0].As<Napi::Number>().Uint32Value();
  std::string name = info[1].As<Napi::String>();
  int smem = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 0;
  if (mid >= modules.size()) throw Napi::Error::New(env, "[sparselab cuda] getFunction: bad module id");
  CUfunction f;
  check(env, drv.cuModuleGetFunction(&f, modules[mid], name.c_str()), ("cuModuleGetFunction(" + name + ")").c_str());
  if (smem > 48 * 1024)
    check(env, drv.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), "cuFuncSetAttribute");
  functions.push_back(f);
  int regs = 0, local = 0;
  drv.cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f);
  drv.cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(functions.size() - 1));
  o.Set("regs", regs);
  o.Set("localBytes", local);
  return o;
}

CUstream streamArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* call) {
  if (info.Length() <= i || info[i].IsUndefined()) return nullptr;
  uint32_t id = info[i].As<Napi::Number>().Uint32Value();
  if (id >= streams.size() || (id != 0 && !streams[id]))
    throw Napi::Error::New(env, std::string("[sparselab cuda] ") + call + ": stream " + std::to_string(id) +
                                    " does not exist (disposed?)");
  return streams[id];
}

CUevent eventArg(Napi::Env env, const Napi::Value& v, const char* call) {
  uint32_t id = v.As<Napi::Number>().Uint32Value();
  if (id >= events.size() || !events[id])
    throw Napi::Error::New(env, std::string("[sparselab cuda] ") + call + ": event " + std::to_string(id) +
                                    " does not exist (disposed?)");
  return events[id];
}

// A parameter slot: 8 bytes for scalars and pointers, 128 for a CUtensorMap. alignas(64) because
// a `const __grid_constant__ CUtensorMap` parameter is copied from here and must be aligned.
struct alignas(64) ParamSlot {
  unsigned char bytes[128];
};

// launch(fn, [gx, gy, gz], [bx, by, bz], smem, spec, args, stream?): spec has one letter per
// argument: p = device pointer (number), i = int32, u = uint32, f = float32, l = int64,
// m = a 128-byte CUtensorMap (a Buffer from tensorMap()) passed by value.
Napi::Value Launch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  uint32_t fid = info[0].As<Napi::Number>().Uint32Value();
  if (fid >= functions.size()) throw Napi::Error::New(env, "[sparselab cuda] launch: bad function id");
  Napi::Array g = info[1].As<Napi::Array>(), b = info[2].As<Napi::Array>();
  unsigned smem = info[3].As<Napi::Number>().Uint32Value();
  std::string spec = info[4].As<Napi::String>();
  Napi::Array args = info[5].As<Napi::Array>();
  CUstream stream = streamArg(env, info, 6, "launch");
  if (args.Length() != spec.size()) throw Napi::Error::New(env, "[sparselab cuda] launch: spec and args differ in length");
  std::vector<ParamSlot> store(spec.size());
  std::vector<void*> ptrs(spec.size());
  for (size_t i = 0; i < spec.size(); i++) {
    Napi::Value v = args.Get(static_cast<uint32_t>(i));
    unsigned char* slot = store[i].bytes;
    if (spec[i] == 'm') {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().ByteLength() != sizeof(CUtensorMap))
        throw Napi::Error::New(env, "[sparselab cuda] launch: argument " + std::to_string(i) +
                                        " (kind m) must be a 128-byte CUtensorMap buffer from tensorMap()");
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      std::memcpy(slot, static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), sizeof(CUtensorMap));
      ptrs[i] = slot;
      continue;
    }
    if (!v.IsNumber())
      throw Napi::Error::New(env, "[sparselab cuda] launch: argument " + std::to_string(i) + " (kind " + spec[i] +
                                      ") must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    switch (spec[i]) {
      case 'p': { uint64_t p = static_cast<uint64_t>(d); std::memcpy(slot, &p, 8); break; }
      case 'l': { int64_t x = static_cast<int64_t>(d); std::memcpy(slot, &x, 8); break; }
      case 'i': { int32_t x = static_cast<int32_t>(d); std::memcpy(slot, &x, 4); break; }
      case 'u': { uint32_t x = static_cast<uint32_t>(d); std::memcpy(slot, &x, 4); break; }
      case 'f': { float x = static_cast<float>(d); std::memcpy(slot, &x, 4); break; }
      default: throw Napi::Error::New(env, std::string("[sparselab cuda] launch: unknown arg kind '") + spec[i] + "' in spec");
    }
    ptrs[i] = slot;
  }
  auto u = [&](Napi::Array a, uint32_t i) { return a.Get(i).As<Napi::Number>().Uint32Value(); };
  check(env,
        drv.cuLaunchKernel(functions[fid], u(g, 0), u(g, 1), u(g, 2), u(b, 0), u(b, 1), u(b, 2), smem, stream,
                           ptrs.data(), nullptr),
        "cuLaunchKernel");
  return env.Undefined();
}

// tensorMap(dataType, globalAddress, globalDim[], globalStrides[], boxDim[], elementStrides[],
//           interleave, swizzle, l2Promotion, oobFill) -> Buffer(128)
// Enum values are the driver's (CUtensorMapDataType, ...Swizzle, ...); runtime.ts maps names to
// them and checks the documented limits first, so a driver rejection here is the exception.
Napi::Value TensorMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  if (!drv.cuTensorMapEncodeTiled)
    throw Napi::Error::New(env, "[sparselab cuda] tensorMap: this CUDA driver has no cuTensorMapEncodeTiled "
                                "(TMA needs CUDA 12 or newer and an sm_90 GPU)");
  auto list = [&](const Napi::Value& v, const char* what) {
    Napi::Array a = v.As<Napi::Array>();
    std::vector<unsigned long long> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) out[i] = static_cast<unsigned long long>(a.Get(i).As<Napi::Number>().DoubleValue());
    (void)what;
    return out;
  };
  int dataType = info[0].As<Napi::Number>().Int32Value();
  CUdeviceptr addr = ptrIn(info[1]);
  std::vector<unsigned long long> dims = list(info[2], "globalDim"), strides = list(info[3], "globalStrides");
  std::vector<unsigned long long> box64 = list(info[4], "boxDim"), es64 = list(info[5], "elementStrides");
  int interleave = info[6].As<Napi::Number>().Int32Value(), swizzle = info[7].As<Napi::Number>().Int32Value();
  int l2 = info[8].As<Napi::Number>().Int32Value(), oob = info[9].As<Napi::Number>().Int32Value();
  unsigned rank = static_cast<unsigned>(dims.size());
  if (rank < 1 || rank > 5 || strides.size() != rank - 1 || box64.size() != rank || es64.size() != rank)
    throw Napi::Error::New(env, "[sparselab cuda] tensorMap: rank " + std::to_string(rank) +
                                    " needs 1..5 dims, rank-1 strides, rank box dims and rank element strides");
  std::vector<unsigned> box(box64.begin(), box64.end()), es(es64.begin(), es64.end());
  CUtensorMap map;
  std::memset(&map, 0, sizeof(map));
  CUresult r = drv.cuTensorMapEncodeTiled(&map, dataType, rank, reinterpret_cast<void*>(addr), dims.data(),
                                          rank > 1 ? strides.data() : nullptr, box.data(), es.data(), interleave,
                                          swizzle, l2, oob);
  if (r != 0) {
    std::string d = "dataType " + std::to_string(dataType) + ", rank " + std::to_string(rank) + ", dims [";
    for (unsigned i = 0; i < rank; i++) d += (i ? ", " : "") + std::to_string(dims[i]);
    d += "], strides [";
    for (unsigned i = 0; i + 1 < rank; i++) d += (i ? ", " : "") + std::to_string(strides[i]);
    d += "], box [";
    for (unsigned i = 0; i < rank; i++) d += (i ? ", " : "") + std::to_string(box[i]);
    d += "], swizzle " + std::to_string(swizzle);
    check(env, r, ("cuTensorMapEncodeTiled(" + d + ")").c_str());
  }
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&map), sizeof(map));
}

Napi::Value Malloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  CUdeviceptr p = 0;
  check(env, drv.cuMemAlloc(&p, static_cast<size_t>(bytes < 1 ? 1 : bytes)), "cuMemAlloc");
  if (static_cast<double>(p) >= 9007199254740992.0) throw Napi::Error::New(env, "[sparselab cuda] device pointer above 2^53");
  return Napi::Number::New(env, ptrOut(p));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ctx || sticky) return env.Undefined();  // freeing into a dead context is a no-op, never a crash
  check(env, drv.cuMemFree(ptrIn(info[0])), "cuMemFree");
  return env.Undefined();
}

Napi::Value Memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env,
        drv.cuMemsetD8(ptrIn(info[0]), static_cast<unsigned char>(info[1].As<Napi::Number>().Uint32Value()),
                       static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue())),
        "cuMemsetD8");
  return env.Undefined();
}

// htod(ptr, typedArray)
Napi::Value HtoD(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  Napi::TypedArray t = info[1].As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  check(env, drv.cuMemcpyHtoD(ptrIn(info[0]), base, t.ByteLength()), "cuMemcpyHtoD");
  return env.Undefined();
}

// dtoh(ptr, bytes) -> ArrayBuffer
Napi::Value DtoH(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  size_t n = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
  check(env, drv.cuMemcpyDtoH(ab.Data(), ptrIn(info[0]), n), "cuMemcpyDtoH");
  return ab;
}

Napi::Value DtoD(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env, drv.cuMemcpyDtoD(ptrIn(info[0]), ptrIn(info[1]), static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue())),
        "cuMemcpyDtoD");
  return env.Undefined();
}

Napi::Value Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env, drv.cuCtxSynchronize(), "cuCtxSynchronize (an earlier kernel failed)");
  return env.Undefined();
}

Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  size_t fr = 0, tot = 0;
  check(env, drv.cuMemGetInfo(&fr, &tot), "cuMemGetInfo");
  Napi::Object o = Napi::Object::New(env);
  o.Set("free", static_cast<double>(fr));
  o.Set("total", static_cast<double>(tot));
  return o;
}

// eventCreate(timing = true) -> id. Events without timing are cheaper (allocator bookkeeping).
Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  bool timing = info.Length() < 1 || info[0].IsUndefined() || info[0].ToBoolean();
  CUevent e;
  check(env, drv.cuEventCreate(&e, timing ? 0 : 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
  uint32_t id;
  if (!freeEventIds.empty()) {
    id = freeEventIds.back();
    freeEventIds.pop_back();
    events[id] = e;
  } else {
    id = static_cast<uint32_t>(events.size());
    events.push_back(e);
  }
  return Napi::Number::New(env, id);
}

// eventRecord(e, stream?)
Napi::Value EventRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUevent e = eventArg(env, info[0], "eventRecord");
  check(env, drv.cuEventRecord(e, streamArg(env, info, 1, "eventRecord")), "cuEventRecord");
  return env.Undefined();
}

// eventQuery(e) -> true when all work captured by the event has finished.
Napi::Value EventQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUresult r = drv.cuEventQuery(eventArg(env, info[0], "eventQuery"));
  if (r == 600 /* CUDA_ERROR_NOT_READY */) return Napi::Boolean::New(env, false);
  check(env, r, "cuEventQuery");
  return Napi::Boolean::New(env, true);
}

Napi::Value EventSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env, drv.cuEventSynchronize(eventArg(env, info[0], "eventSynchronize")), "cuEventSynchronize");
  return env.Undefined();
}

// eventElapsed(start, end) -> ms, after synchronising on end
Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUevent a = eventArg(env, info[0], "eventElapsed");
  CUevent b = eventArg(env, info[1], "eventElapsed");
  check(env, drv.cuEventSynchronize(b), "cuEventSynchronize");
  float ms = 0;
  check(env, drv.cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
  return Napi::Number::New(env, ms);
}

Napi::Value EventDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= events.size() || !events[id]) return env.Undefined();
  if (ctx && !sticky) drv.cuEventDestroy(events[id]);
  events[id] = nullptr;
  freeEventIds.push_back(id);
  return env.Undefined();
}

// Waits for an event on a libuv worker thread, so `await` leaves the JS thread free.
class EventWaiter : public Napi::AsyncWorker {
 public:
  EventWaiter(Napi::Env env, CUevent e) : Napi::AsyncWorker(env), e_(e), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    // The driver wants a current context on the calling thread.
    r_ = drv.cuCtxSetCurrent(ctx);
    if (r_ == 0) r_ = e_ ? drv.cuEventSynchronize(e_) : drv.cuCtxSynchronize();
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (r_ == 0) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    std::string msg = std::string(e_ ? "cuEventSynchronize" : "cuCtxSynchronize") + " (on a worker thread) failed: " + cuErr(r_);
    if (isSticky(r_)) {
      sticky = true;
      stickyWhat = msg;
      msg += ". The CUDA context is now unusable (a sticky error); restart the kernel to use the GPU again.";
    }
    deferred_.Reject(Napi::Error::New(env, "[sparselab cuda] " + msg).Value());
  }

 private:
  CUevent e_;
  CUresult r_ = 0;
  Napi::Promise::Deferred deferred_;
};

// eventWait(e) -> Promise<void>, resolved once the event completes.
Napi::Value EventWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  EventWaiter* w = new EventWaiter(env, eventArg(env, info[0], "eventWait"));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Reads a device->staging copy out on a worker thread: waits for the event recorded after the
// copy, then copies the staged bytes into fresh memory there as well (faulting in a large new
// buffer costs tens of milliseconds, which the JS thread should not spend).
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, CUevent e, Napi::TypedArray view)
      : Napi::AsyncWorker(env), e_(e), n_(view.ByteLength()), deferred_(Napi::Promise::Deferred::New(env)) {
    src_ = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    keep_ = Napi::Persistent(view.As<Napi::Object>());  // the staging buffer stays alive until done
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    r_ = drv.cuCtxSetCurrent(ctx);
    if (r_ == 0) r_ = drv.cuEventSynchronize(e_);
    if (r_ != 0) return;
    dst_ = std::malloc(n_ ? n_ : 1);
    if (!dst_) {
      oom_ = true;
      return;
    }
    std::memcpy(dst_, src_, n_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    keep_.Reset();
    if (r_ != 0 || oom_) {
      std::string msg = oom_ ? std::string("readAsync: out of host memory for ") + std::to_string(n_) + " bytes"
                             : "cuEventSynchronize (reading on a worker thread) failed: " + cuErr(r_);
      if (!oom_ && isSticky(r_)) {
        sticky = true;
        stickyWhat = msg;
        msg += ". The CUDA context is now unusable (a sticky error); restart the kernel to use the GPU again.";
      }
      deferred_.Reject(Napi::Error::New(env, "[sparselab cuda] " + msg).Value());
      return;
    }
    void* p = dst_;
    dst_ = nullptr;
    deferred_.Resolve(Napi::ArrayBuffer::New(env, p, n_, [](Napi::Env, void* data) { std::free(data); }));
  }
  ~ReadWorker() override { std::free(dst_); }

 private:
  CUevent e_;
  size_t n_;
  uint8_t* src_ = nullptr;
  void* dst_ = nullptr;
  bool oom_ = false;
  CUresult r_ = 0;
  Napi::ObjectReference keep_;
  Napi::Promise::Deferred deferred_;
};

// readAsync(event, stagingView) -> Promise<ArrayBuffer>: a copy of the view's bytes once the event
// (recorded after the device->staging copy into the view) completes.
Napi::Value ReadAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  ReadWorker* w = new ReadWorker(env, eventArg(env, info[0], "readAsync"), info[1].As<Napi::TypedArray>());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// syncAsync() -> Promise<void>: cuCtxSynchronize (every stream) on a worker thread.
Napi::Value SyncAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  EventWaiter* w = new EventWaiter(env, nullptr);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// streamCreate() -> id. Blocking streams (flags 0): they order against the legacy default stream,
// which every op used before streams existed, so mixing the two stays correct.
Napi::Value StreamCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUstream s;
  check(env, drv.cuStreamCreate(&s, 0), "cuStreamCreate");
  // Stream ids are never reused: the allocator tags blocks with the stream they were used on, and
  // a new stream under an old id would inherit that ordering without having it.
  uint32_t id = static_cast<uint32_t>(streams.size());
  streams.push_back(s);
  return Napi::Number::New(env, id);
}

Napi::Value StreamSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env, drv.cuStreamSynchronize(streamArg(env, info, 0, "streamSynchronize")), "cuStreamSynchronize");
  return env.Undefined();
}

Napi::Value StreamQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUresult r = drv.cuStreamQuery(streamArg(env, info, 0, "streamQuery"));
  if (r == 600) return Napi::Boolean::New(env, false);
  check(env, r, "cuStreamQuery");
  return Napi::Boolean::New(env, true);
}

// streamWaitEvent(stream, event): later work on stream waits for the event (no host wait).
Napi::Value StreamWaitEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUstream s = streamArg(env, info, 0, "streamWaitEvent");
  check(env, drv.cuStreamWaitEvent(s, eventArg(env, info[1], "streamWaitEvent"), 0), "cuStreamWaitEvent");
  return env.Undefined();
}

// streamDestroy(id): the driver lets queued work finish before releasing the stream.
Napi::Value StreamDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id == 0 || id >= streams.size() || !streams[id]) return env.Undefined();
  if (ctx && !sticky) drv.cuStreamDestroy(streams[id]);
  streams[id] = nullptr;
  return env.Undefined();
}

// hostAlloc(bytes) -> ArrayBuffer over page-locked memory (what async copies need to be truly
// asynchronous). The garbage collector frees it with cuMemFreeHost; runtime.ts pools these.
Napi::Value HostAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  size_t n = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  void* p = nullptr;
  check(env, drv.cuMemHostAlloc(&p, n < 1 ? 1 : n, 0), "cuMemHostAlloc");
  return Napi::ArrayBuffer::New(env, p, n, [](Napi::Env, void* data) {
    if (ctx && !sticky) drv.cuMemFreeHost(data);
  });
}

uint8_t* viewData(const Napi::Value& v) {
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
}

// htodAsync(ptr, view, stream?): `view` should lie in hostAlloc memory and stay untouched until
// an event recorded after this copy completes (runtime.ts guarantees both).
Napi::Value HtoDAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  Napi::TypedArray t = info[1].As<Napi::TypedArray>();
  check(env, drv.cuMemcpyHtoDAsync(ptrIn(info[0]), viewData(info[1]), t.ByteLength(), streamArg(env, info, 2, "htodAsync")),
        "cuMemcpyHtoDAsync");
  return env.Undefined();
}

// dtohAsync(view, ptr, stream?): copies view.byteLength bytes from ptr into view.
Napi::Value DtoHAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  Napi::TypedArray t = info[0].As<Napi::TypedArray>();
  check(env, drv.cuMemcpyDtoHAsync(viewData(info[0]), ptrIn(info[1]), t.ByteLength(), streamArg(env, info, 2, "dtohAsync")),
        "cuMemcpyDtoHAsync");
  return env.Undefined();
}

// memsetAsync(ptr, byte, bytes, stream?)
Napi::Value MemsetAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env,
        drv.cuMemsetD8Async(ptrIn(info[0]), static_cast<unsigned char>(info[1].As<Napi::Number>().Uint32Value()),
                            static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue()), streamArg(env, info, 3, "memsetAsync")),
        "cuMemsetD8Async");
  return env.Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("compile", Napi::Function::New(env, Compile));
  exports.Set("moduleLoad", Napi::Function::New(env, ModuleLoad));
  exports.Set("getFunction", Napi::Function::New(env, GetFunction));
  exports.Set("launch", Napi::Function::New(env, Launch));
  exports.Set("malloc", Napi::Function::New(env, Malloc));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("memset", Napi::Function::New(env, Memset));
  exports.Set("htod", Napi::Function::New(env, HtoD));
  exports.Set("dtoh", Napi::Function::New(env, DtoH));
  exports.Set("dtod", Napi::Function::New(env, DtoD));
  exports.Set("sync", Napi::Function::New(env, Sync));
  exports.Set("memInfo", Napi::Function::New(env, MemInfo));
  exports.Set("eventCreate", Napi::Function::New(env, EventCreate));
  exports.Set("eventRecord", Napi::Function::New(env, EventRecord));
  exports.Set("eventElapsed", Napi::Function::New(env, EventElapsed));
  exports.Set("eventQuery", Napi::Function::New(env, EventQuery));
  exports.Set("eventSynchronize", Napi::Function::New(env, EventSynchronize));
  exports.Set("eventWait", Napi::Function::New(env, EventWait));
  exports.Set("syncAsync", Napi::Function::New(env, SyncAsync));
  exports.Set("readAsync", Napi::Function::New(env, ReadAsync));
  exports.Set("eventDestroy", Napi::Function::New(env, EventDestroy));
  exports.Set("streamCreate", Napi::Function::New(env, StreamCreate));
  exports.Set("streamSynchronize", Napi::Function::New(env, StreamSynchronize));
  exports.Set("streamQuery", Napi::Function::New(env, StreamQuery));
  exports.Set("streamWaitEvent", Napi::Function::New(env, StreamWaitEvent));
  exports.Set("streamDestroy", Napi::Function::New(env, StreamDestroy));
  exports.Set("hostAlloc", Napi::Function::New(env, HostAlloc));
  exports.Set("htodAsync", Napi::Function::New(env, HtoDAsync));
  exports.Set("dtohAsync", Napi::Function::New(env, DtoHAsync));
  exports.Set("memsetAsync", Napi::Function::New(env, MemsetAsync));
  exports.Set("tensorMap", Napi::Function::New(env, TensorMap));
  return exports;
}

}  // namespace

NODE_API_MODULE(sparselab_cuda, InitModule)
