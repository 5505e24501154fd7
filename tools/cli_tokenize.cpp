// `retort tokenize --tokenizer PATH [--decode]`: text on stdin -> a JSON array of ids on stdout;
// with --decode, a JSON array of ids on stdin -> the text. PATH is a tokenizer.json, a checkpoint
// directory containing one, or "byte". stdin is taken whole, trailing newline included.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer.h"
#include "tools/cli.h"

namespace retort::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer;             // tokenizer.json, checkpoint directory, or "byte"
  bool decode = false;               // ids -> text instead of text -> ids
  bool add_special_tokens = false;   // apply the tokenizer's post-processor (e.g. a BOS)
  bool skip_special_tokens = false;  // --decode: leave special tokens out of the text
};

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

void run_tokenize(const TokenizeArgs& args) {
  const auto tokenizer = load_tokenizer(args.tokenizer);
  const std::string input = read_stdin();
  if (!args.decode) {
    std::cout << nlohmann::json(tokenizer->encode(input, args.add_special_tokens)).dump() << "\n";
    return;
  }
  nlohmann::json ids_json;
  try {
    ids_json = nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    fail("tokenize --decode: stdin is not JSON (expected an array of ids like [9707, 1879]): ",
         e.what());
  }
  RETORT_CHECK(ids_json.is_array(), "tokenize --decode: expected a JSON array of ids, got ",
               ids_json.type_name());
  std::vector<TokenId> ids;
  for (const nlohmann::json& id : ids_json) {
    RETORT_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 &&
                     id.get<int64_t>() < tokenizer->vocab_size(),
                 "tokenize --decode: ", id.dump(), " is not an id of the ", tokenizer->describe(),
                 " (ids are integers in [0, ", tokenizer->vocab_size(), "))");
    ids.push_back(id.get<TokenId>());
  }
  std::cout << tokenizer->decode(ids, args.skip_special_tokens);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Text on stdin -> JSON array of token ids on stdout (--decode: the reverse)");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer.json, a checkpoint directory containing it, or \"byte\"")
      ->required();
  cmd->add_flag("--decode", args->decode, "read a JSON array of ids, write the text");
  cmd->add_flag("--add-special-tokens", args->add_special_tokens,
                "apply the tokenizer's post-processor when encoding (e.g. add a BOS)");
  cmd->add_flag("--skip-special-tokens", args->skip_special_tokens,
                "leave special tokens out when decoding");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace retort::cli
