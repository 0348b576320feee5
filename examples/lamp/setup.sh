#!/bin/sh
# One-time setup for the LAMP example image (Dockerfile.lamp runs it at build time).
# Idempotent: running it again changes nothing.
set -eu

# Runtime directories. apache2ctl needs /run/lock (it creates /run/lock/apache2 in it);
# mysqld_safe creates /run/mysqld itself, but only if it can.
install -d -m 1777 /run/lock
install -d -o mysql -g root -m 755 /run/mysqld

# MariaDB: Debian's mysqld_safe logs to syslog, and a container has no syslog, so every
# MariaDB log line would be lost. Log to a file instead. Also accept connections on
# port 3306 from outside the container (it is only reachable where the port is published).
cat > /etc/mysql/mariadb.conf.d/90-container.cnf <<'CNF'
[mysqld_safe]
skip_syslog
log_error = /var/log/mysql/error.log

[mysqld]
bind-address = 0.0.0.0
CNF
install -d -o mysql -g adm -m 2750 /var/log/mysql

# The data directory. Debian's package initialises /var/lib/mysql; an empty one
# (a fresh volume) needs mysql_install_db.
if [ ! -d /var/lib/mysql/mysql ]; then
    mysql_install_db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi

# The demo database and the user db.php connects as, created without starting a server.
mariadbd --user=mysql --datadir=/var/lib/mysql --bootstrap --skip-networking  <<'SQL'
FLUSH PRIVILEGES;
CREATE DATABASE IF NOT EXISTS lamp;
CREATE TABLE IF NOT EXISTS lamp.visits (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE USER IF NOT EXISTS 'app'@'localhost' IDENTIFIED BY 'apppw';
GRANT SELECT, INSERT ON lamp.* TO 'app'@'localhost';
SQL

# Apache: name the server (silences AH00558 on every start).
echo 'ServerName localhost' > /etc/apache2/conf-available/servername.conf
a2enconf -q servername
