# redis-gitops: the CLI and the daemon (deploy/ runs `redis-gitops daemon`),
# as a small non-root image with a static binary.
# Build: docker build --build-arg VERSION=$(git describe --always) -t ghcr.io/redis-gitops/redis-gitops:dev .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/redis-gitops ./cmd/redis-gitops

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/redis-gitops /usr/local/bin/redis-gitops
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/redis-gitops"]
