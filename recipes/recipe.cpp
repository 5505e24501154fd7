// Reading, validating and embedding recipes.
#include "recipes/recipe.h"

#include <set>

#include "core/error.h"
#include "rewards/registry.h"

namespace retort {

extern const char* const kEmbeddedRecipeText;  // generated from recipes/r1_zero_tiny.yaml

namespace {

RecipeConfig read_checked(const YAML::Node& root, const std::string& source,
                          const std::set<std::string>& overridden) {
  auto recipe = read_config_node<RecipeConfig>(root, source, overridden);
  // A stage's type-specific section only makes sense on that type: a `grpo:` block on an lm
  // stage is a mistake (probably a wrong type), not something to ignore.
  const YAML::Node stages = root["stages"];
  for (size_t i = 0; stages && stages.IsSequence() && i < stages.size(); ++i) {
    const auto& stage = recipe.stages[i];
    for (const char* section : {"lm", "grpo"}) {
      RETORT_CHECK(!stages[i][section] || stage.type == section,
                   describe_location(stages[i][section], source), ": stages.", i, " (",
                   stage.name, ") has type '", stage.type, "' but a '", section,
                   "' section; set type: ", section, " or remove the section");
    }
  }
  return recipe;
}

}  // namespace

RecipeConfig read_recipe(const std::string& file, const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_file(file);
  const auto overridden = apply_overrides(root, overrides);
  return read_checked(root, file, overridden);
}

RecipeConfig read_recipe_text(const std::string& yaml, const std::string& source,
                              const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_text_with_overrides(yaml, source, {});
  const auto overridden = apply_overrides(root, overrides);
  return read_checked(root, source, overridden);
}

void validate_recipe(const RecipeConfig& recipe, int world_size) {
  RETORT_CHECK(!recipe.name.empty() && recipe.name.find('/') == std::string::npos,
               "recipe: name must be a non-empty name without '/', got '", recipe.name, "'");
  RETORT_CHECK(!recipe.stages.empty(), "recipe ", recipe.name,
               ": no stages; add a list `stages:` with at least one {name, type, steps}");
  RETORT_CHECK(!recipe.model.path.empty() || !recipe.model.preset.empty(),
               "recipe: set model.path (a Hugging Face directory) or model.preset");
  RETORT_CHECK(!recipe.model.path.empty() || !recipe.model.tokenizer.empty(),
               "recipe: a preset model needs model.tokenizer (\"byte\", or a tokenizer.json)");
  std::set<std::string> names;
  for (size_t i = 0; i < recipe.stages.size(); ++i) {
    const StageSection& s = recipe.stages[i];
    const std::string where = c10::str("stages.", i, " (", s.name, ")");
    RETORT_CHECK(!s.name.empty(), "stages.", i, ": every stage needs a name");
    RETORT_CHECK(names.insert(s.name).second, where, ": the name is used twice");
    RETORT_CHECK(!s.type.empty(), where, ": set type: lm or grpo");
    RETORT_CHECK(s.steps >= 1, where, ": set steps (>= 1)");
    RETORT_CHECK(!s.data.path.empty() || !s.data.generate.empty(), where,
                 ": set data.path (a JSONL file) or data.generate (countdown, arithmetic, ",
                 "arithmetic_corpus, countdown_corpus)");
    const int64_t optimizer_steps = s.type == "grpo" ? s.steps * s.grpo.updates_per_rollout : s.steps;
    RETORT_CHECK(s.optim.warmup_steps < optimizer_steps, where, ": optim.warmup_steps (",
                 s.optim.warmup_steps, ") must be below the stage's optimizer steps (",
                 optimizer_steps, ")");
    RETORT_CHECK(s.data.min_numbers <= s.data.max_numbers, where,
                 ": data.min_numbers must be <= data.max_numbers");
    if (s.type == "lm") {
      RETORT_CHECK(s.lm.batch_size >= world_size, where, ": lm.batch_size (", s.lm.batch_size,
                   ") must be at least the number of ranks (", world_size, ")");
    } else if (s.type == "grpo") {
      const GrpoSection& g = s.grpo;
      std::string known;
      for (const auto& entry : reward_table()) known += (known.empty() ? "" : ", ") + std::string(entry.name);
      RETORT_CHECK(!g.rewards.empty(), where,
                   ": grpo.rewards is empty; list rewards, e.g. [{name: format}, {name: "
                   "accuracy}] (known: ", known, ")");
      // Builds the rewards once, so an unknown name or a bad argument stops the run here.
      std::vector<RewardSpec> specs;
      for (const auto& r : g.rewards) specs.push_back({r.name, r.weight, r.args});
      try {
        RewardSet check(specs);
      } catch (const Error& e) {
        fail(where, ": grpo.rewards: ", e.what());
      }
      RETORT_CHECK(g.prompts_per_step >= world_size, where, ": grpo.prompts_per_step (",
                   g.prompts_per_step, ") must be at least the number of ranks (", world_size,
                   "): each rank samples whole groups");
      RETORT_CHECK(g.temperature > 0, where, ": grpo.temperature must be > 0");
      if (!g.accuracy_reward.empty()) {
        bool found = false;
        for (const auto& r : g.rewards) found = found || r.name == g.accuracy_reward;
        RETORT_CHECK(found, where, ": grpo.accuracy_reward '", g.accuracy_reward,
                     "' is not one of the stage's rewards");
      }
    }
  }
}

std::string write_recipe(const RecipeConfig& recipe) {
  ConfigWriter writer;
  RecipeConfig copy = recipe;
  copy.visit_fields(writer);
  YAML::Node root = writer.node();
  for (size_t i = 0; i < recipe.stages.size(); ++i) {
    for (const char* section : {"lm", "grpo"})
      if (recipe.stages[i].type != section) root["stages"][i].remove(section);
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

const std::string& embedded_default_recipe() {
  static const std::string text = kEmbeddedRecipeText;
  return text;
}

}  // namespace retort
