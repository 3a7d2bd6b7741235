#!/usr/bin/env bash
# Builds the gateway's Debian package from already built binaries:
#   scripts/build-pagw-deb.sh [BIN_DIR] [OUT_DIR]   (defaults: target/release target/debian)
# Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release}
out=${2:-target/debian}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
for tool in giif-pagw-apply giif-pagw-show giif-pagw-toolbox; do
  install -D -m 0755 "$bin/$tool" "$root/usr/sbin/$tool"
done
install -D -m 0644 pagw/debian/giif-pagw.service "$root/lib/systemd/system/giif-pagw.service"
install -D -m 0440 pagw/debian/sudoers "$root/etc/sudoers.d/giif-pagw"
install -D -m 0644 pagw/debian/sshd_config "$root/etc/ssh/sshd_config.d/giif-pagw.conf"
install -d "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" pagw/debian/control.in > "$root/DEBIAN/control"
printf '/etc/sudoers.d/giif-pagw\n/etc/ssh/sshd_config.d/giif-pagw.conf\n' > "$root/DEBIAN/conffiles"
install -m 0755 pagw/debian/postinst "$root/DEBIAN/postinst"
mkdir -p "$out"
package="$out/giif-pagw_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -b "$root" "$package" >/dev/null
echo "$package"
