#!/usr/bin/env bash
# Provide a Pulumi CLI + Python language host of exactly the version of the
# PyPI `pulumi` SDK pinned in pyproject.toml, and print the directory holding
# them as the LAST line of stdout (all progress goes to stderr):
#
#   bin=$(toolchain/build.sh | tail -n1) && export PATH="$bin:$PATH"
#
# Order of preference:
#   1. a `pulumi` of that version already on PATH with `pulumi-language-python`
#      beside it (e.g. an official install);
#   2. our cache: ${REGIONSTACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/regionstack}/toolchain/
#      pulumi-v<version>-<hash of toolchain sources>/bin  (reused in well under a second);
#   3. build it from Go modules (CLI via go.mod's `tool` directive, plus our own
#      language host from cmd/pulumi-language-python), add the SDK's Python shims
#      and our dynamic-provider wrapper (shims/), into a temp dir that is renamed
#      into place only once complete and verified.
#
# Env: REGIONSTACK_CACHE_DIR (cache root), REGIONSTACK_PYPROJECT (pyproject.toml
# to read the pin from; default: the repo's), GO (go binary to use).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
pyproject=${REGIONSTACK_PYPROJECT:-$repo/pyproject.toml}

log() { printf 'toolchain: %s\n' "$*" >&2; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

# --- the pinned version -------------------------------------------------------
[ -f "$pyproject" ] || die "$pyproject not found; it must list \"pulumi==X.Y.Z\" in its dependencies."
version=$(sed -nE 's/.*"pulumi==([0-9]+\.[0-9]+\.[0-9]+)".*/\1/p' "$pyproject" | head -n1)
[ -n "$version" ] || die "no \"pulumi==X.Y.Z\" dependency pin found in $pyproject."

# The Go side must build the same release, or `pulumi version` would not match.
for mod in pkg sdk; do
    if ! grep -qE "^[[:space:]]*github\.com/pulumi/pulumi/$mod/v3 v$version( |\$)" "$here/go.mod"; then
        die "toolchain/go.mod does not pin github.com/pulumi/pulumi/$mod/v3 v$version (pyproject.toml wants $version).
  Fix: cd toolchain && go get -tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$version \\
         && go get github.com/pulumi/pulumi/sdk/v3@v$version && go mod tidy && go test ./..."
    fi
done

cache_root=${REGIONSTACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/regionstack}/toolchain

# --- 1. already on PATH? -------------------------------------------------------
# (Our own cache entries on PATH are skipped here: they are only reused below
# when their source hash is current, so host edits are never silently ignored.)
if existing=$(command -v pulumi 2>/dev/null); then
    dir=$(dirname "$(readlink -f "$existing")")
    if [[ $dir != "$(readlink -m "$cache_root")"/* ]] && [ -x "$dir/pulumi-language-python" ] &&
        [ "$(PULUMI_SKIP_UPDATE_CHECK=true "$existing" version 2>/dev/null)" = "v$version" ]; then
        log "using pulumi v$version found on PATH in $dir"
        echo "$dir"
        exit 0
    fi
fi

# --- 2. cached build? ----------------------------------------------------------
# The hash covers everything that changes the binaries: the version, go.mod/go.sum,
# the host's (non-test) sources, our provider wrapper and this script's recipe.
hash=$(
    cd "$here"
    {
        echo "$version"
        find go.mod go.sum build.sh cmd shims -type f ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum
    } | sha256sum | cut -c1-12
)
final=$cache_root/pulumi-v$version-$hash
bin=$final/bin
tools=(pulumi pulumi-language-python pulumi-language-python-exec
    pulumi-resource-pulumi-python pulumi-resource-pulumi-python.sdk)

complete() {
    local t
    for t in "${tools[@]}"; do [ -x "$1/$t" ] || return 1; done
}

if complete "$bin"; then
    log "using cached toolchain $final"
    echo "$bin"
    exit 0
fi

# --- 3. build ------------------------------------------------------------------
go=${GO:-$(command -v go || true)}
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then
    go=/usr/local/go/bin/go # the official tarball's location, often not on PATH
fi
if [ -z "$go" ] || ! "$go" version >/dev/null 2>&1; then
    die "Go is needed to build pulumi v$version (toolchain/go.mod asks for go $(sed -n 's/^go //p' "$here/go.mod") or newer).
  Install Go (https://go.dev/dl/ or your distro) and put it on PATH, or set GO=/path/to/go, then rerun.
  Alternatively put an official pulumi v$version with pulumi-language-python beside it on PATH."
fi

mkdir -p "$cache_root"
# Leftovers of builds killed with SIGKILL (no trap ran); an hour is far longer than any build.
find "$cache_root" -maxdepth 1 -name '.pulumi-v*.tmp.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
# Same filesystem as the final dir so the closing rename is atomic: a killed
# build leaves only a dot-temp dir (removed by the trap when possible), never a
# half-made cache entry.
tmp=$(mktemp -d "$cache_root/.pulumi-v$version-$hash.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 0755 "$tmp" # mktemp makes it 0700
mkdir "$tmp/bin"

ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
export GOFLAGS="${GOFLAGS:-} -mod=readonly" # never let a build rewrite go.mod/go.sum

build() { # build <what> <output> <package>
    local start=$SECONDS
    log "building $1 with $("$go" env GOVERSION) ..."
    if ! (cd "$here" && "$go" build -trimpath -ldflags "$ldflags" -o "$2" "$3" >&2); then
        die "building $1 failed (go output above). Check that the Go module proxy is reachable
  (GOPROXY=$("$go" env GOPROXY)) and there is disk space, then rerun toolchain/build.sh."
    fi
    log "built $1 in $((SECONDS - start))s"
}
log "note: with an empty Go build cache the CLI takes several minutes (about 4-5 on 2 CPUs)"
build "the Pulumi CLI v$version" "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
build "the Python language host" "$tmp/bin/pulumi-language-python" ./cmd/pulumi-language-python

# The Python-side shims ship in the sdk/v3 Go module (read-only in the module
# cache, so install with explicit modes). The SDK's dynamic-provider script goes
# in as *.sdk behind our wrapper, which fixes its virtualenv lookup when `main:`
# is a subdirectory (see shims/pulumi-resource-pulumi-python).
sdk_dir=$(cd "$here" && "$go" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$tmp/bin/"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$tmp/bin/pulumi-resource-pulumi-python.sdk"
install -m 0755 "$here/shims/pulumi-resource-pulumi-python" "$tmp/bin/"

got=$(PULUMI_SKIP_UPDATE_CHECK=true "$tmp/bin/pulumi" version 2>/dev/null || true)
[ "$got" = "v$version" ] || die "built pulumi reports '$got', expected v$version."
got=$("$tmp/bin/pulumi-language-python" -version || true)
[ "$got" = "$version" ] || die "built pulumi-language-python reports '$got', expected $version."
complete "$tmp/bin" || die "incomplete toolchain in $tmp/bin."

if ! mv -T "$tmp" "$final" 2>/dev/null; then
    complete "$bin" || die "could not move $tmp to $final."
    log "another build finished first; using it"
fi
log "toolchain ready: $bin"
echo "$bin"
