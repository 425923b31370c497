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
std::vector<CUevent> events;

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
              sym(drv.lib, "cuGetErrorString", drv.cuGetErrorString);
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

// launch(fn, [gx, gy, gz], [bx, by, bz], smem, spec, args): spec has one letter per argument:
// p = device pointer (number), i = int32, u = uint32, f = float32, l = int64.
Napi::Value Launch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  uint32_t fid = info[0].As<Napi::Number>().Uint32Value();
  if (fid >= functions.size()) throw Napi::Error::New(env, "[sparselab cuda] launch: bad function id");
  Napi::Array g = info[1].As<Napi::Array>(), b = info[2].As<Napi::Array>();
  unsigned smem = info[3].As<Napi::Number>().Uint32Value();
  std::string spec = info[4].As<Napi::String>();
  Napi::Array args = info[5].As<Napi::Array>();
  if (args.Length() != spec.size()) throw Napi::Error::New(env, "[sparselab cuda] launch: spec and args differ in length");
  std::vector<uint64_t> store(spec.size());
  std::vector<void*> ptrs(spec.size());
  for (size_t i = 0; i < spec.size(); i++) {
    Napi::Value v = args.Get(static_cast<uint32_t>(i));
    double d = v.As<Napi::Number>().DoubleValue();
    switch (spec[i]) {
      case 'p': { uint64_t p = static_cast<uint64_t>(d); store[i] = p; break; }
      case 'l': { int64_t x = static_cast<int64_t>(d); std::memcpy(&store[i], &x, 8); break; }
      case 'i': { int32_t x = static_cast<int32_t>(d); std::memcpy(&store[i], &x, 4); break; }
      case 'u': { uint32_t x = static_cast<uint32_t>(d); std::memcpy(&store[i], &x, 4); break; }
      case 'f': { float x = static_cast<float>(d); std::memcpy(&store[i], &x, 4); break; }
      default: throw Napi::Error::New(env, "[sparselab cuda] launch: unknown arg kind in spec");
    }
    ptrs[i] = &store[i];
  }
  auto u = [&](Napi::Array a, uint32_t i) { return a.Get(i).As<Napi::Number>().Uint32Value(); };
  check(env,
        drv.cuLaunchKernel(functions[fid], u(g, 0), u(g, 1), u(g, 2), u(b, 0), u(b, 1), u(b, 2), smem, nullptr,
                           ptrs.data(), nullptr),
        "cuLaunchKernel");
  return env.Undefined();
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

Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUevent e;
  check(env, drv.cuEventCreate(&e, 0), "cuEventCreate");
  events.push_back(e);
  return Napi::Number::New(env, static_cast<double>(events.size() - 1));
}

Napi::Value EventRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  check(env, drv.cuEventRecord(events.at(info[0].As<Napi::Number>().Uint32Value()), nullptr), "cuEventRecord");
  return env.Undefined();
}

// eventElapsed(start, end) -> ms, after synchronising on end
Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  needCtx(env);
  CUevent a = events.at(info[0].As<Napi::Number>().Uint32Value());
  CUevent b = events.at(info[1].As<Napi::Number>().Uint32Value());
  check(env, drv.cuEventSynchronize(b), "cuEventSynchronize");
  float ms = 0;
  check(env, drv.cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
  return Napi::Number::New(env, ms);
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
  return exports;
}

}  // namespace

NODE_API_MODULE(sparselab_cuda, InitModule)
