# syntax=docker/dockerfile:1
#
# regiond's container image: a static binary on distroless, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t regiond .
#   docker run -p 8080:8080 -v regiond-data:/data regiond                    # SQLite in /data
#   docker run -p 8080:8080 -e REGIOND_DATABASE='mysql://...' -e REGIOND_ADMIN_TOKEN=... regiond
#
# The binary is built by `make build`, the target CI runs (and checks with `make build-check`):
# one recipe for both. The build context has no .git, so the version comes in as VERSION.
#
# No HEALTHCHECK: the final image has no shell and no HTTP client to run one. Orchestrators probe
# the HTTP endpoints instead — GET /healthz (liveness) and GET /readyz (readiness; it fails while
# the database is unreachable and during shutdown); see deploy/kubernetes/deployment.yaml.

# The Go version of go.mod's `go` line (deploy/deploy_test.go checks that they agree).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    make build VERSION="${VERSION}" \
 && mkdir -p /out/data

# distroless/static: CA certificates, tzdata and /etc/passwd with the nonroot user (65532), no
# shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/regiond /regiond
# The default database is sqlite://data/regiond.db, relative to the working directory: /data is
# where it goes (mount a volume there to keep it). With MySQL nothing is written to disk.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/regiond"]
CMD ["serve"]
