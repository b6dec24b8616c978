#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Installs everything Postern needs to build and test on Debian 12.
# Idempotent; run as root (or through sudo).
set -eu

BUILD_PACKAGES="
  gcc libc6-dev pkg-config meson ninja-build git
  libglib2.0-dev libgtk-4-dev libadwaita-1-dev
  libsoup-3.0-dev libjson-glib-dev libsecret-1-dev
  libqrencode-dev libsqlite3-dev libgmime-3.0-dev
  libcurl4-gnutls-dev libgnutls28-dev glib-networking
  gettext desktop-file-utils appstream clang-format
"
TEST_PACKAGES="
  clang libclang-rt-14-dev
  xvfb dbus-daemon gnome-keyring libglib2.0-bin
  imagemagick zbar-tools xclip python3 python3-gi openssl swaks curl
  flatpak-builder tzdata
"

missing=""
for pkg in $BUILD_PACKAGES $TEST_PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $pkg"
  fi
done

if [ -z "$missing" ]; then
  echo "install-deps: everything is already installed"
  exit 0
fi

# Only installing needs root: a user with everything in place needs no sudo.
if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
