# syntax=docker/dockerfile:1
# Surfaces: a small, non-root image with the bot and the reference agent.
#
#   docker build -t surfaces .
#   docker run --env-file .env -v /agents:/agents -v surfaces-data:/data surfaces
#
# Both binaries are static (CGO_ENABLED=0): Badger and the goolm crypto build
# are pure Go, so the runtime image needs no libc.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags goolm -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/surfaces ./cmd/surfaces \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/refagent ./cmd/refagent \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/surfaces /usr/local/bin/surfaces
COPY --from=build /out/refagent /usr/local/bin/refagent
COPY --from=build --chown=65532:65532 /out/data /data
COPY config/surfaces.example.yaml config/matrix-agents.example.yaml /etc/surfaces/
USER 65532:65532
ENV SURFACES_STATE_PATH=/data \
    SURFACES_WORKSPACE_DIR=/agents \
    SURFACES_HTTP_LISTEN=0.0.0.0:8080 \
    SURFACES_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
# Healthy while /readyz answers 200 (logged in, synced, reconciled). The
# distroless image has no curl: the bot's binary asks (at most 3 s), reading
# only http.listen from the same configuration.
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
  CMD ["/usr/local/bin/surfaces", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/surfaces"]
CMD ["run"]
