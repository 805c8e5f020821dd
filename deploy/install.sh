#!/usr/bin/env bash
# Install yizhan as a service on Raspberry Pi OS (or any Debian with systemd).
#
#   sudo deploy/install.sh gateway     # a station gateway
#   sudo deploy/install.sh central     # the central service
#
# Run it from a checkout of the repository. It creates the `yizhan` user (in the gpio and
# dialout groups), a virtualenv in /opt/yizhan/venv, an example configuration in
# /etc/yizhan (never overwriting yours), the udev rules, and the systemd unit; then checks
# that the clock is synchronised and starts the service. Safe to run again to upgrade.
set -euo pipefail

role=${1:-}
case "$role" in
  gateway|central) ;;
  *) echo "usage: $0 gateway|central" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo $0 $role)" >&2
  exit 1
fi

source_dir=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/yizhan
config_dir=/etc/yizhan
unit=yizhan-$role.service

echo "== packages"
apt-get update -q
packages=(python3 python3-venv)
if [ "$role" = gateway ]; then
  # lgpio is the GPIO back-end gpiozero needs on a Raspberry Pi 5 (and works on a 4).
  packages+=(python3-lgpio)
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"

echo "== user"
for group in gpio dialout; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id yizhan >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/yizhan --shell /usr/sbin/nologin yizhan
fi
usermod -a -G gpio,dialout yizhan

echo "== virtualenv in $prefix/venv"
install -d -m 0755 "$prefix"
# --system-site-packages lets gpiozero find the Debian lgpio bindings.
[ -x "$prefix/venv/bin/python" ] || python3 -m venv --system-site-packages "$prefix/venv"
"$prefix/venv/bin/python" -m pip install -q --upgrade pip
"$prefix/venv/bin/python" -m pip install -q "$source_dir"

echo "== configuration in $config_dir"
install -d -m 0750 -o root -g yizhan "$config_dir"
if [ ! -e "$config_dir/$role.toml" ]; then
  install -m 0640 -o root -g yizhan "$source_dir/deploy/config/$role.toml" "$config_dir/$role.toml"
  echo "   wrote $config_dir/$role.toml: edit station, broker and wiring before the first scan"
else
  echo "   kept your $config_dir/$role.toml"
fi
if [ "$role" = central ] && [ ! -e "$config_dir/stations.toml" ]; then
  # Stations live in the central's database; this example seeds it once, by hand.
  install -m 0640 -o root -g yizhan "$source_dir/deploy/config/stations.toml" "$config_dir/stations.toml"
  echo "   wrote $config_dir/stations.toml: edit it, then after the first start run"
  echo "   $prefix/venv/bin/yizhan stations import --config $config_dir/central.toml $config_dir/stations.toml"
fi

if [ "$role" = gateway ]; then
  echo "== udev rules"
  install -m 0644 "$source_dir/deploy/udev/99-yizhan.rules" /etc/udev/rules.d/99-yizhan.rules
  udevadm control --reload || true
  udevadm trigger --subsystem-match=tty || true
fi

echo "== systemd unit $unit"
install -m 0644 "$source_dir/deploy/systemd/$unit" "/etc/systemd/system/$unit"
systemctl daemon-reload
systemctl enable "$unit"

echo "== clock"
# Tokens and commands carry times: a gateway whose clock is off refuses good codes.
if [ "$(timedatectl show -p NTPSynchronized --value 2>/dev/null || echo no)" != yes ]; then
  echo "   WARNING: the clock is not synchronised (timedatectl). Enable NTP:"
  echo "            timedatectl set-ntp true   and check with: timedatectl timesync-status"
else
  echo "   synchronised"
fi

systemctl restart "$unit"
echo "== done: follow it with  journalctl -u $unit -f"
