# giif: the Terraform provider, the on-site agent and the simulated site.
# Prerequisites: Rust (cargo), Terraform >= 1.11 or OpenTofu, PostgreSQL and
# MariaDB server binaries for the tests. See README.md.

CARGO ?= cargo
TERRAFORM ?= terraform

.PHONY: all build test lint docs demo demo-down clean

all: build

build:
	$(CARGO) build --workspace --bins

# The acceptance tests run the binaries built here.
test: build
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(TERRAFORM) fmt -check -recursive examples

docs:
	$(CARGO) run -q -p terraform-provider-giif --bin gen-docs

demo: build
	./scripts/demo.sh

demo-down:
	./scripts/demo-down.sh

clean: demo-down
	rm -rf .demo
	$(CARGO) clean
