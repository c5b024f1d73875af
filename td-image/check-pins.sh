#!/usr/bin/env bash
# Refuses the image build while a pin is missing (fail closed): every requirement in the pip
# requirement files must carry --hash=sha256:… (pip --require-hashes then checks the wheels).
# PyPI is not reachable from the development machine, so these hashes cannot be filled in there;
# a build host with network access must add them (see README.md, "Pins").
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
missing=()
for f in engine-requirements.txt gpu-attest-requirements.txt; do
  # Join continuation lines, drop comments, then look at each requirement.
  while IFS= read -r req; do
    [[ -z "${req// }" ]] && continue
    [[ "$req" == *"--hash=sha256:"* ]] || missing+=("$f: ${req%% *}")
  done < <(sed -e 's/#.*//' "$dir/$f" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
done
if ((${#missing[@]})); then
  echo "td-image: refusing to build: these requirements have no pinned hash (add --hash=sha256:… from 'pip hash' of the wheels on a networked host):" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
