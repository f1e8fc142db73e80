#!/usr/bin/env bash
# The project's test command (README "Test"): installs what the tests need, then runs
# formatting, lints and the whole test suite. Works on a fresh machine of the `rust` kind.
set -euo pipefail
cd "$(dirname "$0")/.."

# protoc, for alien-worker-protocol's build.rs (the worker host in emulator/src/emulate/host).
bash scripts/install-protoc.sh
bash scripts/install-chromium.sh # chromium + chromedriver for tests/ui_browser.rs

# The real npm @alienplatform/core for the golden stack tests, outside the repository.
core_dir="${ALIEN_CORE_DIR:-${TMPDIR:-/tmp}/alien-emulator-core}"
bash scripts/install-alien-core.sh "$core_dir"
export ALIEN_CORE_MODULES="$core_dir/node_modules"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# The fixture worker app (published alien-sdk 3.3.49), built once into the shared target dir
# before the tests that run it.
CARGO_TARGET_DIR="$PWD/target" cargo build --locked --manifest-path tests/fixtures/worker-app/Cargo.toml
# The conformance peers (issue 6), on 127.0.0.1, installed and started by the project's own
# scripts; tests/conformance_peers.rs runs the conformance table against them.
peers=()
stop_peers() {
  for peer in "${peers[@]}"; do
    bash scripts/peers/"${peer%%=*}".sh stop --port "${peer##*:}" || true
  done
}
trap stop_peers EXIT
ALIEN_MOTO_URL="$(bash scripts/peers/moto.sh start)"
peers+=("moto=$ALIEN_MOTO_URL")
ALIEN_LOCALSTACK_URL="$(bash scripts/peers/localstack.sh start)"
peers+=("localstack=$ALIEN_LOCALSTACK_URL")
# The GCP and Azure peers (issue 11): Google's Pub/Sub emulator (preinstalled with gcloud),
# fake-gcs-server (PyPI wheel) and Azurite (npm), each on 127.0.0.1.
ALIEN_PUBSUB_EMULATOR_URL="$(bash scripts/peers/pubsub.sh start)"
peers+=("pubsub=$ALIEN_PUBSUB_EMULATOR_URL")
# fake-gcs-server publishes its object events to the Pub/Sub emulator (the GCS change feed).
export ALIEN_FAKE_GCS_EVENTS_TOPIC=gcs-events ALIEN_FAKE_GCS_EVENTS_PUBSUB="$ALIEN_PUBSUB_EMULATOR_URL"
ALIEN_FAKE_GCS_URL="$(bash scripts/peers/fake-gcs.sh start)"
peers+=("fake-gcs=$ALIEN_FAKE_GCS_URL")
azurite_url="$(bash scripts/peers/azurite.sh start)"
peers+=("azurite=$azurite_url")
ALIEN_AZURITE_URL="$azurite_url/devstoreaccount1"
export ALIEN_MOTO_URL ALIEN_LOCALSTACK_URL ALIEN_PUBSUB_EMULATOR_URL ALIEN_FAKE_GCS_URL \
  ALIEN_AZURITE_URL

# The workspace's own target dir, said out loud: the test harness (alien_emulator::harness) builds
# the fixture app in-process with cargo, which then finds it built above instead of building it
# again from scratch in the fixture's own target dir.
export CARGO_TARGET_DIR="$PWD/target"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast
else
  cargo test --workspace --all-features --no-fail-fast
fi
