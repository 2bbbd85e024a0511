#!/bin/sh
# autogen.sh - generate configure and Makefile.in from a git checkout.
# Needs autoconf, automake, libtool, autoconf-archive and pkg-config.
set -e
cd "$(dirname "$0")"
autoreconf -fi
