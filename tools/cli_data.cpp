// `retort data countdown|arith|corpus|countdown-corpus --n N --seed S [--out FILE]`: synthetic
// datasets for runs without downloads (recipes/tasks.h). countdown and arith write prompt JSONL
// ({"prompt", "answer", metadata}); corpus and countdown-corpus write {"text"} and {"prompt",
// "completion"} lines for pretraining a tiny model.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "recipes/tasks.h"
#include "tools/cli.h"

namespace retort::cli {
namespace {

struct DataArgs {
  std::string kind;  // countdown, arith, corpus or countdown-corpus
  int64_t n = 1000;  // records
  uint64_t seed = 0;
  std::string out = "-";     // JSONL path, - = stdout
  int64_t max_operand = 99;  // arith / corpus operand range
  int64_t terms = 2;         // arith / corpus operands per question
  double wrong_frac = 0.5;   // corpus: share of wrong worked answers
  double reflection_frac = 0.0;  // corpus: share of self-correcting worked answers
  double statement_frac = 1.0 / 3;  // corpus: share of plain "a + b = c." claims
  double fact_frac = 0.0;           // corpus: share of correct one-operation facts
};

void run_data(const DataArgs& args) {
  std::vector<nlohmann::json> records;
  const ArithmeticOptions arith{args.max_operand, args.terms};
  if (args.kind == "countdown") {
    records = generate_countdown(args.n, args.seed);
  } else if (args.kind == "countdown-corpus") {
    records = generate_countdown_corpus(args.n, args.seed,
                                        {{}, args.wrong_frac, args.reflection_frac});
  } else if (args.kind == "arith") {
    records = generate_arithmetic(args.n, args.seed, arith);
  } else {
    records = generate_arithmetic_corpus(args.n, args.seed,
                                         {arith, args.wrong_frac, args.reflection_frac,
                                          args.statement_frac, args.fact_frac});
  }
  std::ofstream file;
  if (args.out != "-") {
    file.open(args.out);
    RETORT_CHECK(file.good(), args.out, ": cannot write");
  }
  std::ostream& out = args.out == "-" ? std::cout : file;
  for (const auto& r : records) out << r.dump() << "\n";
  if (args.out != "-")
    std::fprintf(stderr, "wrote %zu records to %s\n", records.size(), args.out.c_str());
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "data", "Generate synthetic datasets (countdown, arith, corpus, countdown-corpus)");
  auto args = std::make_shared<DataArgs>();
  cmd->add_option("kind", args->kind,
                  "countdown (puzzles), arith (questions), corpus (arithmetic pretraining text) "
                  "or countdown-corpus (worked countdown answers)")
      ->required()
      ->check(CLI::IsMember({"countdown", "arith", "corpus", "countdown-corpus"}));
  cmd->add_option("--n", args->n, "records")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--out", args->out, "output JSONL, - for stdout")->capture_default_str();
  cmd->add_option("--max-operand", args->max_operand, "arith/corpus: largest operand")
      ->capture_default_str();
  cmd->add_option("--terms", args->terms, "arith/corpus: operands per question")
      ->capture_default_str();
  cmd->add_option("--wrong-frac", args->wrong_frac, "corpus, countdown-corpus: share of wrong worked answers")
      ->capture_default_str();
  cmd->add_option("--reflection-frac", args->reflection_frac,
                  "corpus, countdown-corpus: share of answers that check and correct themselves")
      ->capture_default_str();
  cmd->add_option("--statement-frac", args->statement_frac,
                  "corpus: share of plain statements \"a + b = c.\" (wrong as often as answers)")
      ->capture_default_str();
  cmd->add_option("--fact-frac", args->fact_frac,
                  "corpus: share of correct one-operation facts \"8 - 2 = 6.\"")
      ->capture_default_str();
  cmd->callback([args] { run_data(*args); });
}

}  // namespace retort::cli
