# Sourced by scripts/demo and scripts/test: make sure .venv is a virtualenv of Python 3.10+ ($PYTHON, else
# python3). A .venv left by an older Python (a first run before installing a newer one) is made again,
# instead of every later run failing in pip with "requires a different Python".
PY="${PYTHON:-python3}"
supported() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; }
# Also a .venv whose Python no longer runs (the interpreter it links to was removed or upgraded away):
# python -m venv keeps a dangling bin/python link as it is, so it would stay broken.
if [[ -e .venv || -L .venv ]] && ! supported .venv/bin/python; then
  held="$(.venv/bin/python --version 2>&1)" || held=""
  echo "recreating .venv: it holds ${held:-no Python that runs}, and serverless-jwt needs Python 3.10+" >&2
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  if ! supported "$PY"; then
    echo "serverless-jwt needs Python 3.10+, and $PY is $("$PY" --version 2>/dev/null || echo 'not found');" \
         "name a newer one: PYTHON=python3.12 $0" >&2
    exit 2
  fi
  # A failed venv (Debian's python3 without python3-venv: "ensurepip is not available") leaves a .venv
  # with a bin/python and no pip; kept, every later run would fail in pip without that hint.
  "$PY" -m venv .venv || { status=$?; rm -rf .venv; exit "$status"; }
fi
