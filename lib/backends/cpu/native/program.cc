#include "program.h"

#include <algorithm>
#include <cmath>

#include "common.h"

namespace sl {

ProgramRunner::ProgramRunner(const Program& p, int cap)
    : p_(p), cap_(cap), vals_(size_t(p.nregs) * size_t(cap)), uni_(size_t(p.nregs)), sval_(size_t(p.nregs)) {}

namespace {

// The IR's truth: non-zero and not NaN (lib/attention/mask-ir-js.ts).
inline bool truthy(double x) { return x != 0 && x == x; }

// Python's %, computed exactly as the JS reference does.
inline double floored_mod(double a, double b) { return a - b * std::floor(a / b); }

inline double un(int op, double a) {
  switch (op) {
    case OP_NEG: return -a;
    case OP_NOT: return truthy(a) ? 0 : 1;
    case OP_ABS: return std::fabs(a);
    case OP_FLOOR: return std::floor(a);
    case OP_CEIL: return std::ceil(a);
    case OP_SIGN: return a > 0 ? 1 : a < 0 ? -1 : a;
    case OP_TANH: return std::tanh(a);
    case OP_EXP: return std::exp(a);
    case OP_LOG: return std::log(a);
    case OP_SQRT: return std::sqrt(a);
  }
  return NAN;
}

inline double bin(int op, double a, double b) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MOD: return floored_mod(a, b);
    case OP_FLOORDIV: return std::floor(a / b);
    case OP_MIN: return a < b ? a : b;
    case OP_MAX: return a > b ? a : b;
    case OP_POW: return std::pow(a, b);
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_AND: return truthy(a) && truthy(b);
    case OP_OR: return truthy(a) || truthy(b);
    case OP_XOR: return truthy(a) != truthy(b);
  }
  return NAN;
}

// The common binary ops get their own loops so the compiler vectorises them.
template <typename F>
inline void vloop(double* d, const double* a, bool ua, double sa, const double* b, bool ub, double sb, int n, F f) {
  if (ua) for (int j = 0; j < n; j++) d[j] = f(sa, b[j]);
  else if (ub) for (int j = 0; j < n; j++) d[j] = f(a[j], sb);
  else for (int j = 0; j < n; j++) d[j] = f(a[j], b[j]);
}

}  // namespace

void ProgramRunner::run(int b, int h, int q, int kv0, int n, const float* score) {
  const int32_t* c = p_.code.data();
  const size_t ninstr = p_.code.size() / 5;
  for (size_t pc = 0; pc < ninstr; pc++, c += 5) {
    const int op = c[0], dst = c[1];
    double* d = &vals_[size_t(dst) * cap_];
    switch (op) {
      case OP_CONST:
        uni_[dst] = 1;
        sval_[dst] = p_.consts[size_t(c[2])];
        break;
      case OP_VAR:
        if (c[2] == VAR_KV) {
          uni_[dst] = 0;
          for (int j = 0; j < n; j++) d[j] = double(kv0 + j);
        } else if (c[2] == VAR_SCORE) {
          uni_[dst] = 0;
          for (int j = 0; j < n; j++) d[j] = double(score[j]);
        } else {
          uni_[dst] = 1;
          sval_[dst] = c[2] == VAR_B ? b : c[2] == VAR_H ? h : q;
        }
        break;
      case OP_IDX: {
        const std::vector<double>& t = p_.tables[size_t(c[2])];
        const int64_t len = int64_t(t.size());
        auto get = [&](double x) -> double {
          // Out-of-range reads 0 (the IR's native rule; JS validates bounds at build time).
          if (!(x >= 0) || x >= double(len)) return 0;
          return t[size_t(int64_t(x))];
        };
        const int a = c[3];
        if (uni_[a]) {
          uni_[dst] = 1;
          sval_[dst] = get(sval_[a]);
        } else {
          uni_[dst] = 0;
          const double* av = &vals_[size_t(a) * cap_];
          for (int j = 0; j < n; j++) d[j] = get(av[j]);
        }
        break;
      }
      case OP_SEL: {
        const int cc = c[2], x = c[3], y = c[4];
        if (uni_[cc]) {  // a uniform condition picks one branch for the whole row
          const int pick = truthy(sval_[cc]) ? x : y;
          uni_[dst] = uni_[pick];
          if (uni_[pick]) sval_[dst] = sval_[pick];
          else std::copy_n(&vals_[size_t(pick) * cap_], n, d);
        } else {
          uni_[dst] = 0;
          const double* cv = &vals_[size_t(cc) * cap_];
          for (int j = 0; j < n; j++) {
            const int pick = truthy(cv[j]) ? x : y;
            d[j] = uni_[pick] ? sval_[pick] : vals_[size_t(pick) * cap_ + j];
          }
        }
        break;
      }
      default:
        if (op >= OP_NEG && op <= OP_SQRT) {
          const int a = c[2];
          if (uni_[a]) {
            uni_[dst] = 1;
            sval_[dst] = un(op, sval_[a]);
          } else {
            uni_[dst] = 0;
            const double* av = &vals_[size_t(a) * cap_];
            for (int j = 0; j < n; j++) d[j] = un(op, av[j]);
          }
        } else {
          const int a = c[2], bb = c[3];
          const bool ua = uni_[a], ub = uni_[bb];
          if (ua && ub) {
            uni_[dst] = 1;
            sval_[dst] = bin(op, sval_[a], sval_[bb]);
            break;
          }
          uni_[dst] = 0;
          const double* av = &vals_[size_t(a) * cap_];
          const double* bv = &vals_[size_t(bb) * cap_];
          const double sa = sval_[a], sb = sval_[bb];
          switch (op) {
            case OP_ADD: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return x + y; }); break;
            case OP_SUB: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return x - y; }); break;
            case OP_MUL: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return x * y; }); break;
            case OP_LT: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(x < y); }); break;
            case OP_LE: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(x <= y); }); break;
            case OP_GT: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(x > y); }); break;
            case OP_GE: vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(x >= y); }); break;
            case OP_AND:
              vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(truthy(x) & truthy(y)); });
              break;
            case OP_OR:
              vloop(d, av, ua, sa, bv, ub, sb, n, [](double x, double y) { return double(truthy(x) | truthy(y)); });
              break;
            default: {
              const int o = op;
              vloop(d, av, ua, sa, bv, ub, sb, n, [o](double x, double y) { return bin(o, x, y); });
            }
          }
        }
    }
  }
}

void ProgramRunner::mask_row(int b, int h, int q, int kv0, int n, uint8_t* keep) {
  run(b, h, q, kv0, n, nullptr);
  const int r = p_.result;
  if (uni_[r]) {
    std::memset(keep, truthy(sval_[r]) ? 1 : 0, size_t(n));
  } else {
    const double* v = &vals_[size_t(r) * cap_];
    for (int j = 0; j < n; j++) keep[j] = truthy(v[j]);
  }
}

void ProgramRunner::score_row(int b, int h, int q, int kv0, int n, float* score) {
  run(b, h, q, kv0, n, score);
  const int r = p_.result;
  if (uni_[r]) {
    for (int j = 0; j < n; j++) score[j] = float(sval_[r]);
  } else {
    const double* v = &vals_[size_t(r) * cap_];
    for (int j = 0; j < n; j++) score[j] = float(v[j]);
  }
}

}  // namespace sl
