#!/usr/bin/env bash
# Makes sure the MariaDB the tests use answers on 127.0.0.1:3306 (root, empty password):
# starts it when it is installed but down, installs it from Debian's packages when it is missing.
set -euo pipefail

ping() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

if ping; then exit 0; fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "ensure-mariadb: installing mariadb-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mariadb-server >/dev/null
fi
echo "ensure-mariadb: starting mariadbd" >&2
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
for _ in $(seq 1 60); do
  if ping; then
    # A fresh install lets root in through the socket only: allow the empty-password TCP login
    # the tests use (this is a test machine's database).
    exit 0
  fi
  if mysql -u root -e "SELECT 1" >/dev/null 2>&1; then
    mysql -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
  fi
  sleep 1
done
echo "ensure-mariadb: MariaDB did not answer on 127.0.0.1:3306 within 60s" >&2
exit 1
