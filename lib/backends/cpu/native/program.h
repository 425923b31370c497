// The mask / score-mod IR (lib/attention/mask-ir.ts), run natively. The TS side flattens the
// expression tree into straight-line code (lib/backends/cpu/program.ts); here each register
// is either uniform over a row (depends only on b, h, q) or a vector over the row's kv
// positions, so uniform subexpressions cost one scalar op per row and the rest are tight
// loops over the row: never one call per element.
#pragma once
#include <cstdint>
#include <vector>

#include "program_ops.h"

namespace sl {

struct Program {
  // 5 ints per instruction: op, dst, a, b, c (a: const index / var id / table / operand reg).
  std::vector<int32_t> code;
  std::vector<double> consts;
  std::vector<std::vector<double>> tables;
  int nregs = 0;
  int result = 0;  // register holding the value
  bool uses_score = false;
};

// Per-thread registers for one row of up to `cap` kv positions; the evaluation itself is the
// chosen ISA's (kernels().mask_row / score_row), vectorised over the row in float64 so it
// computes exactly what the JS reference computes.
class ProgramRunner {
 public:
  ProgramRunner(const Program& p, int cap);
  // srow[j] = -inf where program(b, h, q, kv0 + j) is false (0 or NaN), for j < n.
  void mask_row(int b, int h, int q, int kv0, int n, float* srow);
  // score[j] = program(b, h, q, kv0 + j, score[j]) * post_scale for j < n.
  void score_row(int b, int h, int q, int kv0, int n, float* score, float post_scale);

 private:
  ProgramView view_;
  ProgramScratch scratch_;
  std::vector<double> vals_, sval_;
  std::vector<unsigned char> uni_;
  std::vector<const double*> tables_;
  std::vector<long> table_len_;
};

}  // namespace sl
