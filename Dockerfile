# The GitHub Action's image: revlint built from this checkout, run by action/entrypoint.sh.

FROM rust:1.95-slim-bookworm AS build
# pg_query compiles PostgreSQL's parser and generates its bindings with libclang.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin revlint

FROM debian:bookworm-slim
# git for --diff-base, jq to read the event payload.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git jq \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/revlint /usr/local/bin/revlint
COPY action/entrypoint.sh /usr/local/bin/revlint-action
ENTRYPOINT ["/usr/local/bin/revlint-action"]
