// Precompiled header for every retort target: the LibTorch headers that most translation units
// need. Listed once here so that headers themselves can include only what they use.
#pragma once
#include <torch/torch.h>
