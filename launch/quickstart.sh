#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a pruned model: installs missing packages,
# builds Release, describes the model, prunes kjv-16L (16 -> ~12 layers) with
# configs/quickstart.toml, and generates text with the pruned model.
# Model location: ${LACO_ASSETS:-../shared}/models/kjv-16L (any HuggingFace Llama-family
# directory with config.json, model.safetensors and tokenizer.json works the same way).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

MODEL="$LACO_ASSETS/models/kjv-16L"
if [ ! -f "$MODEL/config.json" ]; then
  echo "quickstart: no model at $MODEL" >&2
  echo "  put a HuggingFace checkpoint directory (config.json, model.safetensors, tokenizer.json)" >&2
  echo "  there, or set LACO_ASSETS to the folder that holds models/kjv-16L" >&2
  exit 2
fi

laco_install_packages
laco_build --target laco_dist
BIN="$LACO_BUILD/laco_dist"
cd "$LACO_ROOT"
echo "== inspect $MODEL"
"$BIN" inspect "$MODEL"
echo "== prune (configs/quickstart.toml)"
"$BIN" prune configs/quickstart.toml "$@"
echo "== generate with the pruned model"
"$BIN" generate --model out/kjv-16L-laco --prompt "And God said" --max-new-tokens 40
