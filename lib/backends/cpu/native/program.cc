#include "program.h"

#include <cstddef>

#include "kernels.h"

namespace sl {

ProgramRunner::ProgramRunner(const Program& p, int cap)
    : vals_(size_t(p.nregs) * size_t(cap)), sval_(size_t(p.nregs)), uni_(size_t(p.nregs)) {
  for (const auto& t : p.tables) {
    tables_.push_back(t.data());
    table_len_.push_back(long(t.size()));
  }
  view_ = {p.code.data(), int(p.code.size() / 5), p.consts.data(), tables_.data(), table_len_.data(), p.result};
  scratch_ = {vals_.data(), uni_.data(), sval_.data(), cap};
}

void ProgramRunner::mask_row(int b, int h, int q, int kv0, int n, float* srow) {
  kernels().mask_row(view_, scratch_, b, h, q, kv0, n, srow);
}

void ProgramRunner::score_row(int b, int h, int q, int kv0, int n, float* score, float post_scale) {
  kernels().score_row(view_, scratch_, b, h, q, kv0, n, score, post_scale);
}

}  // namespace sl
