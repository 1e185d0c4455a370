#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis servers Protect needs are reachable.
#
# usage: scripts/services.sh [--create-db] [--run | --test]
#
# Checks the servers named by PROTECT_DATABASE_URL and PROTECT_REDIS_URL (what
# `protect run` uses) and by PROTECT_TEST_DATABASE_URL and
# PROTECT_TEST_REDIS_URL (what the tests use). A server on this machine
# (localhost, 127.0.0.1, ::1) that is down is started, and installed with
# apt-get first when it is missing and we are root or have passwordless sudo
# (set PROTECT_NO_INSTALL=1 to forbid that). A remote server is only checked.
#
#   --create-db  create the database named in PROTECT_DATABASE_URL when it is
#                missing (needs psql); protect cannot create its own database
#   --run        check only PROTECT_DATABASE_URL and PROTECT_REDIS_URL
#   --test       check only PROTECT_TEST_DATABASE_URL and PROTECT_TEST_REDIS_URL
#
# Other settings: PROTECT_SERVICES_TIMEOUT (seconds to wait for a server to
# become ready, default 30).
#
# It needs neither psql nor redis-cli: ports are probed with bash's /dev/tcp,
# PostgreSQL with pg_isready when present and a protocol startup message,
# Redis with PING. Exit status: 0 ready, 1 something is wrong (the message
# says what and what to do), 2 bad usage.
set -euo pipefail
# Byte semantics for lengths and the wire protocols (not exported).
LC_ALL=C

readonly DEFAULT_DATABASE_URL='postgres://postgres@127.0.0.1:5432/protect?sslmode=disable'
readonly DEFAULT_REDIS_URL='redis://127.0.0.1:6379/0'
readonly DEFAULT_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
readonly DEFAULT_TEST_REDIS_URL='redis://127.0.0.1:6379/0'

TIMEOUT=${PROTECT_SERVICES_TIMEOUT:-30}
CREATE_DB=0
WANT_RUN=1
WANT_TEST=1

say() { printf 'services: %s\n' "$*" >&2; }
# Problems are collected and printed together at the end.
PROBLEMS=()
problem() { PROBLEMS+=("$(printf '%s\n' "$@")"); }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; }

while (($#)); do
	case $1 in
	--create-db) CREATE_DB=1 ;;
	--run) WANT_RUN=1 WANT_TEST=0 ;;
	--test) WANT_RUN=0 WANT_TEST=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		say "unknown argument: $1"
		usage
		exit 2
		;;
	esac
	shift
done
if ((CREATE_DB && !WANT_RUN)); then
	say "--create-db creates the database of PROTECT_DATABASE_URL; it cannot be combined with --test"
	exit 2
fi
if [[ ! $TIMEOUT =~ ^[0-9]+$ ]] || ((TIMEOUT < 1)); then
	say "PROTECT_SERVICES_TIMEOUT must be a whole number of seconds, got '$TIMEOUT'"
	exit 2
fi

# ---------------------------------------------------------------- helpers

have() { command -v "$1" >/dev/null 2>&1; }

is_root() { [[ $(id -u) == 0 ]]; }

# as_root runs a command as root: directly, or through passwordless sudo.
SUDO_OK=
can_be_root() {
	if is_root; then return 0; fi
	if [[ -z $SUDO_OK ]]; then
		SUDO_OK=no
		if have sudo && sudo -n true 2>/dev/null; then SUDO_OK=yes; fi
	fi
	[[ $SUDO_OK == yes ]]
}
# Commands that may leave daemons behind run with fd 9 (the start lock)
# closed, or the daemon would hold the lock for as long as it lives.
as_root() {
	if is_root; then "$@" 9>&-; else sudo -n "$@" 9>&-; fi
}

# urldecode VAR STRING: percent-decode STRING into VAR.
urldecode() {
	local s=$2
	printf -v "$1" '%b' "${s//%/\\x}"
}

# parse_url URL: sets U_SCHEME U_USER U_PASS U_HOST U_PORT U_PATH U_QUERY.
parse_url() {
	local url=$1 rest auth=""
	[[ $url == *://* ]] || return 1
	U_SCHEME=${url%%://*}
	rest=${url#*://}
	rest=${rest%%#*}
	U_QUERY=""
	if [[ $rest == *\?* ]]; then
		U_QUERY=${rest#*\?}
		rest=${rest%%\?*}
	fi
	U_PATH=""
	if [[ $rest == */* ]]; then
		U_PATH=${rest#*/}
		rest=${rest%%/*}
	fi
	if [[ $rest == *@* ]]; then
		auth=${rest%@*}
		rest=${rest##*@}
	fi
	urldecode U_USER "${auth%%:*}"
	U_PASS=""
	if [[ $auth == *:* ]]; then urldecode U_PASS "${auth#*:}"; fi
	U_PORT=""
	if [[ $rest == \[* ]]; then
		U_HOST=${rest%%]*}
		U_HOST=${U_HOST#[}
		rest=${rest#*]}
		U_PORT=${rest#:}
	else
		U_HOST=${rest%%:*}
		if [[ $rest == *:* ]]; then U_PORT=${rest##*:}; fi
	fi
	urldecode U_PATH "$U_PATH"
	[[ -z $U_PORT || $U_PORT =~ ^[0-9]+$ ]]
}

# query_param QUERY NAME sets QP to the value of NAME in a URL query string.
query_param() {
	local kv IFS='&'
	QP=""
	for kv in $1; do
		if [[ ${kv%%=*} == "$2" ]]; then
			urldecode QP "${kv#*=}"
			return 0
		fi
	done
}

is_local() {
	case $1 in
	localhost | 127.0.0.1 | ::1 | '') return 0 ;;
	*) return 1 ;;
	esac
}

# tcp_open HOST PORT: does something accept connections there? Forks a
# shell so that a silent remote host costs 3 s at most.
tcp_open() {
	# shellcheck disable=SC2016 # the inner shell expands its arguments
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# connect HOST PORT opens fd 3 in this shell (no fork: this is the fast
# path). A remote host is first tried with tcp_open, which has a timeout.
connect() {
	if ! is_local "$1"; then tcp_open "$1" "$2" || return 1; fi
	{ exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
}
disconnect() { exec 3<&- 3>&-; }

# read_u8 sets B to the next byte's value on fd 3.
read_u8() {
	local c
	IFS= read -r -t 3 -n 1 -d '' c <&3 || return 1
	if [[ -z $c ]]; then B=0; else printf -v B '%d' "'$c"; fi
}
read_u32() {
	local i v=0
	for i in 1 2 3 4; do
		read_u8 || return 1
		v=$(((v << 8) | B))
	done
	B=$v
}

# skip N reads and drops N bytes from fd 3.
skip() {
	local i c
	for ((i = 0; i < $1; i++)); do IFS= read -r -t 3 -n 1 -d '' c <&3 || return 1; done
}

# pg_probe HOST PORT USER DB sends a PostgreSQL startup message (protocol 3,
# no SSL) and reads the first reply. Sets PROBE to one of
#   ok         trust: authenticated without a password
#   password   the server asks for a password (PROBE_METHOD says which kind)
#   error      the server refused: PROBE_CODE (SQLSTATE) and PROBE_MSG
#   none       no PostgreSQL reply
pg_probe() {
	local host=$1 port=$2 user=$3 db=$4 len hdr type field
	PROBE=none PROBE_CODE="" PROBE_MSG="" PROBE_METHOD=""
	connect "$host" "$port" || return 0
	# Length, protocol 3.0, "user" USER "database" DB as NUL-terminated
	# strings, a final NUL. LC_ALL=C: lengths are in bytes.
	len=$((4 + 4 + 5 + ${#user} + 1 + 9 + ${#db} + 1 + 1))
	printf -v hdr '\\x%02x\\x%02x\\x%02x\\x%02x' \
		$(((len >> 24) & 255)) $(((len >> 16) & 255)) $(((len >> 8) & 255)) $((len & 255))
	# shellcheck disable=SC2059 # hdr holds only \xHH escapes
	if ! printf "$hdr"'\x00\x03\x00\x00%s\0%s\0%s\0%s\0\0' user "$user" database "$db" >&3 2>/dev/null; then
		disconnect
		return 0
	fi
	# Trust answers AuthenticationOk first; a missing role or database is
	# reported after it, so read on to ReadyForQuery or an error.
	while read_u8 && type=$B && read_u32; do
		len=$B
		case $type in
		82) # R: authentication request
			read_u32 || break
			if ((B != 0)); then
				PROBE=password
				case $B in
				3) PROBE_METHOD=password ;;
				5) PROBE_METHOD=md5 ;;
				10) PROBE_METHOD=scram-sha-256 ;;
				*) PROBE_METHOD="method $B" ;;
				esac
				break
			fi
			skip $((len - 8)) || break
			;;
		90) # Z: ready for query
			PROBE=ok
			break
			;;
		69) # E: error fields, each a type byte and a NUL-terminated string
			PROBE=error
			while IFS= read -r -t 3 -d '' field <&3 && [[ -n $field ]]; do
				case $field in
				C*) PROBE_CODE=${field#C} ;;
				M*) PROBE_MSG=${field#M} ;;
				esac
			done
			break
			;;
		*) # S parameter status, K key data, N notice: not needed
			((len >= 4 && len < 65536)) || break
			skip $((len - 4)) || break
			;;
		esac
	done
	printf 'X\0\0\0\4' >&3 2>/dev/null || true
	disconnect
}

# resp ARGS... appends a Redis RESP command to REQ.
resp() {
	local a
	REQ+="*$#"$'\r\n'
	for a in "$@"; do REQ+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
}

# redis_ping HOST PORT USER PASS: sets PING_REPLY to Redis's answer to PING
# (after AUTH when the URL has a password); empty when nothing answered.
redis_ping() {
	local n=1 i line=""
	PING_REPLY=""
	REQ=""
	if [[ -n $4 ]]; then
		if [[ -n $3 ]]; then resp AUTH "$3" "$4"; else resp AUTH "$4"; fi
		n=2
	fi
	resp PING
	resp QUIT
	connect "$1" "$2" || return 0
	if printf %s "$REQ" >&3 2>/dev/null; then
		for ((i = 0; i < n; i++)); do
			IFS= read -r -t 3 line <&3 || {
				line=""
				break
			}
			line=${line%$'\r'}
			if [[ $line == -* ]]; then break; fi
		done
		PING_REPLY=$line
	fi
	disconnect
}

# ------------------------------------------------------------ the targets

# Each target: KIND|VAR|HOST|PORT|URL. Endpoints (KIND|HOST|PORT) are
# deduplicated for starting servers.
TARGETS=()
ENDPOINTS=()
add_target() {
	local var=$1 default=$2 kind=$3 url host port ep
	url=${!var:-}
	if [[ -z $url ]]; then url=$default; fi
	if ! parse_url "$url"; then
		problem "$var is not a URL I can read: the form is ${default%%://*}://[user[:password]@]host[:port]/..."
		return
	fi
	case $kind in
	pg)
		if [[ $U_SCHEME != postgres && $U_SCHEME != postgresql ]]; then
			problem "$var must start with postgres:// (got ${U_SCHEME}://)"
			return
		fi
		port=${U_PORT:-5432}
		if [[ $U_HOST == *,* ]]; then
			problem "$var names several hosts ($U_HOST); this script checks one: check them by hand"
			return
		fi
		query_param "$U_QUERY" host
		if [[ -n $QP ]]; then
			say "$var sets host= in its query (a Unix socket?); this script checks TCP servers only, skipped"
			return
		fi
		;;
	redis)
		if [[ $U_SCHEME != redis && $U_SCHEME != rediss ]]; then
			problem "$var must start with redis:// or rediss:// (got ${U_SCHEME}://)"
			return
		fi
		port=${U_PORT:-6379}
		;;
	esac
	host=${U_HOST:-localhost}
	TARGETS+=("$kind|$var|$host|$port|$url")
	ep="$kind|$host|$port"
	if [[ " ${ENDPOINTS[*]-} " != *" $ep "* ]]; then ENDPOINTS+=("$ep"); fi
}

if ((WANT_RUN)); then
	add_target PROTECT_DATABASE_URL "$DEFAULT_DATABASE_URL" pg
	add_target PROTECT_REDIS_URL "$DEFAULT_REDIS_URL" redis
fi
if ((WANT_TEST)); then
	add_target PROTECT_TEST_DATABASE_URL "$DEFAULT_TEST_DATABASE_URL" pg
	add_target PROTECT_TEST_REDIS_URL "$DEFAULT_TEST_REDIS_URL" redis
fi

# vars_for KIND HOST PORT lists the variables that point at an endpoint.
vars_for() {
	local t out="" k v h p
	for t in "${TARGETS[@]}"; do
		IFS='|' read -r k v h p _ <<<"$t"
		if [[ $k == "$1" && $h == "$2" && $p == "$3" ]]; then out+="${out:+, }$v"; fi
	done
	printf '%s' "$out"
}

# ------------------------------------------------------ readiness checks

PG_ISREADY=""
find_pg_isready() {
	# Prefer the versioned binary: the /usr/bin wrapper costs ~0.1 s.
	local f
	PG_ISREADY=""
	for f in /usr/lib/postgresql/*/bin/pg_isready; do
		if [[ -x $f ]]; then PG_ISREADY=$f; fi
	done
	if [[ -z $PG_ISREADY ]] && have pg_isready; then PG_ISREADY=$(command -v pg_isready); fi
}
find_pg_isready

# ready KIND HOST PORT [wait]: 0 when the server accepts work. While waiting
# for a server we started, PostgreSQL is asked with pg_isready when present.
ready() {
	local kind=$1 host=$2 port=$3
	case $kind in
	pg)
		if [[ ${4:-} == wait && -n $PG_ISREADY ]]; then
			tcp_open "$host" "$port" &&
				"$PG_ISREADY" -q -t 3 -h "$host" -p "$port" -U postgres -d postgres
		else
			pg_probe "$host" "$port" postgres postgres
			# Any answer but "starting up" means it is up.
			[[ $PROBE != none && $PROBE_CODE != 57P03 ]]
		fi
		;;
	redis)
		redis_ping "$host" "$port" "" ""
		# NOAUTH also proves a live Redis; LOADING means not yet.
		[[ $PING_REPLY == +PONG || $PING_REPLY == -NOAUTH* ]]
		;;
	esac
}

name_of() { if [[ $1 == pg ]]; then echo PostgreSQL; else echo Redis; fi; }

# wait_ready KIND HOST PORT: polls until ready or TIMEOUT seconds.
wait_ready() {
	local kind=$1 host=$2 port=$3 start=$SECONDS last=-1 waited
	while :; do
		if ready "$kind" "$host" "$port" wait; then
			say "$(name_of "$kind") on $host:$port is ready ($((SECONDS - start)) s)"
			return 0
		fi
		waited=$((SECONDS - start))
		if ((waited >= TIMEOUT)); then return 1; fi
		if ((waited / 5 != last / 5)); then
			say "waiting for $(name_of "$kind") on $host:$port (${waited} s of ${TIMEOUT} s)..."
			last=$waited
		fi
		sleep 0.3
	done
}

# ---------------------------------------------------- installing, starting

pg_installed() {
	local f
	have pg_ctlcluster || return 1
	for f in /usr/lib/postgresql/*/bin/postgres; do
		if [[ -x $f ]]; then return 0; fi
	done
	return 1
}

APT_UPDATED=0
INSTALL_FAILED=0
CLUSTERS_BEFORE=""
# install PACKAGE...: apt-get install when allowed; prints why not otherwise.
install_packages() {
	local why=""
	if [[ -n ${PROTECT_NO_INSTALL:-} ]]; then
		why="PROTECT_NO_INSTALL is set"
	elif ! have apt-get; then
		why="apt-get is not available"
	elif ! can_be_root; then
		why="installing needs root (or passwordless sudo)"
	fi
	if [[ -n $why ]]; then
		problem "not installed: $* ($why). Install it yourself:" \
			"    sudo apt-get install -y $*" \
			"  or point the URL variables at servers you already have."
		return 1
	fi
	if ((!APT_UPDATED)); then
		say "apt-get update (to install $*)..."
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
			{
				problem "apt-get update failed (output above); install $* yourself"
				return 1
			}
		APT_UPDATED=1
	fi
	say "apt-get install -y $*..."
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 ||
		{
			problem "apt-get install $* failed (output above)"
			return 1
		}
}

# Local clusters: "version name port status owner datadir" lines.
pg_clusters() {
	if have pg_lsclusters; then pg_lsclusters --no-header 2>/dev/null | awk '{print $1, $2, $3, $4, $5, $6}'; fi
}

# as_cluster_owner OWNER CMD...: run a pg_ctlcluster command with the right
# rights: as root, as the cluster owner, or through sudo.
as_cluster_owner() {
	local owner=$1
	shift
	if is_root || [[ $(id -un) == "$owner" ]]; then "$@" 9>&-; elif can_be_root; then as_root "$@"; else return 77; fi
}

# trust_local_tcp VERSION NAME: put trust lines for 127.0.0.1 and ::1 at the
# top of a cluster's pg_hba.conf. Only used on clusters this script created.
trust_local_tcp() {
	local hba="/etc/postgresql/$1/$2/pg_hba.conf" tmp
	[[ -f $hba ]] || {
		problem "cannot find $hba to allow local connections as postgres"
		return 1
	}
	if grep -q 'added by Protect scripts/services.sh' "$hba"; then return 0; fi
	tmp=$(mktemp)
	{
		echo "# Local development: added by Protect scripts/services.sh when it created"
		echo "# this cluster. TCP connections from this machine need no password."
		echo "host    all    all    127.0.0.1/32    trust"
		echo "host    all    all    ::1/128         trust"
		echo
		cat "$hba"
	} >"$tmp"
	# Write through the existing file to keep its owner and mode.
	as_root tee "$hba" <"$tmp" >/dev/null
	rm -f "$tmp"
	say "cluster $1/$2 is new: configured trust for 127.0.0.1 and ::1 in $hba (local development only)"
}

CREATED_CLUSTERS=()
# adopt_new_clusters: clusters that appeared with our apt-get install of
# postgresql are ours: allow local TCP with trust, and reload them if the
# package already started them.
adopt_new_clusters() {
	local ver name _p status owner _d
	while read -r ver name _p status owner _d; do
		[[ -n $ver && $CLUSTERS_BEFORE != *"$ver $name "* ]] || continue
		CREATED_CLUSTERS+=("$ver/$name")
		trust_local_tcp "$ver" "$name" || continue
		if [[ $status == online* ]]; then
			as_cluster_owner "$owner" pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >&2 || true
		fi
	done <<<"$(pg_clusters)"
}

# start_pg HOST PORT: start (installing or creating if needed) the local
# cluster on PORT.
start_pg() {
	local host=$1 port=$2 line ver name cport status owner _d version="" rc f
	if ! pg_installed; then
		((INSTALL_FAILED)) || problem "PostgreSQL is still not installed (no pg_ctlcluster or server binary)."
		return 1
	fi
	line=$(pg_clusters | awk -v p="$port" '$3 == p' | head -n 1)
	if [[ -z $line ]]; then
		if [[ -n $(pg_clusters) ]]; then
			problem "no local PostgreSQL cluster listens on port $port; clusters here:" \
				"$(pg_clusters | awk '{printf "    %s/%s on port %s (%s)\n", $1, $2, $3, $4}')" \
				"  Set the port in $(vars_for pg "$host" "$port") to the cluster's, or change 'port' in" \
				"  /etc/postgresql/VERSION/NAME/postgresql.conf and restart the cluster."
			return 1
		fi
		for f in /usr/lib/postgresql/*/bin/postgres; do
			if [[ -x $f ]]; then
				version=${f#/usr/lib/postgresql/}
				version=${version%%/*}
			fi
		done
		if ! can_be_root; then
			problem "PostgreSQL $version is installed but has no cluster. Create one:" \
				"    sudo pg_createcluster -p $port $version main --start"
			return 1
		fi
		say "no PostgreSQL cluster: creating $version/main on port $port..."
		as_root pg_createcluster -p "$port" "$version" main >&2 || {
			problem "pg_createcluster failed (output above)"
			return 1
		}
		line=$(pg_clusters | awk -v p="$port" '$3 == p' | head -n 1)
		read -r ver name _ _ _ _ <<<"$line"
		CREATED_CLUSTERS+=("$ver/$name")
	fi
	read -r ver name cport status owner _d <<<"$line"
	if [[ " ${CREATED_CLUSTERS[*]-} " == *" $ver/$name "* ]]; then
		trust_local_tcp "$ver" "$name" || return 1
	fi
	if [[ $status == online* ]]; then
		# Running but not answering here: starting up, or not listening
		# on this address.
		say "PostgreSQL cluster $ver/$name is running; giving it a few seconds on $host:$cport"
		if wait_quick pg "$host" "$port"; then return 0; fi
		problem "PostgreSQL cluster $ver/$name is running but does not answer on $host:$port." \
			"  Check listen_addresses in /etc/postgresql/$ver/$name/postgresql.conf (it must cover $host;" \
			"  the default 'localhost' does), restart the cluster, or use 127.0.0.1 in $(vars_for pg "$host" "$port")."
		return 1
	fi
	say "starting PostgreSQL cluster $ver/$name (port $cport)..."
	rc=0
	as_cluster_owner "$owner" pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 || rc=$?
	if ((rc == 77)); then
		problem "PostgreSQL cluster $ver/$name is stopped and starting it needs root or the $owner user. Run:" \
			"    sudo pg_ctlcluster --skip-systemctl-redirect $ver $name start"
		return 1
	fi
	# Another run may have started it meanwhile: the wait decides.
	if ((rc != 0)); then say "pg_ctlcluster start exited $rc; checking whether the cluster is up anyway"; fi
	PG_LOG="/var/log/postgresql/postgresql-$ver-$name.log"
}

REDIS_LOG=""
start_redis() {
	local host=$1 port=$2 dir log bind major
	if ! have redis-server; then
		((INSTALL_FAILED)) || problem "Redis is still not installed (no redis-server on PATH)."
		return 1
	fi
	if is_root; then
		dir=/var/lib/redis
		log=/var/log/redis/protect.log
	else
		dir="${TMPDIR:-/tmp}/protect-redis-$(id -u)"
		log="$dir/redis.log"
	fi
	mkdir -p "$dir" "$(dirname "$log")"
	bind=(127.0.0.1 -::1)
	major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\).*/\1/p')
	# The "-" prefix (bind if available) arrived with Redis 7.
	if [[ -n $major ]] && ((major < 7)); then bind=(127.0.0.1); fi
	say "starting redis-server on port $port (data dir $dir, log $log)..."
	redis-server --daemonize yes --bind "${bind[@]}" --port "$port" \
		--save "" --appendonly no --dir "$dir" --logfile "$log" >&2 9>&- ||
		say "redis-server exited $?; checking whether Redis is up anyway"
	REDIS_LOG=$log
}

# wait_quick KIND HOST PORT [SECONDS]: a short, quiet wait (default 3 s).
wait_quick() {
	local t=$TIMEOUT rc=0
	TIMEOUT=${4:-3}
	wait_ready "$1" "$2" "$3" >/dev/null 2>&1 || rc=$?
	TIMEOUT=$t
	return "$rc"
}

# ensure_endpoint KIND HOST PORT brings up a server that did not answer.
ensure_endpoint() {
	local kind=$1 host=$2 port=$3 what vars logf
	what=$(name_of "$kind")
	vars=$(vars_for "$kind" "$host" "$port")
	if ! is_local "$host"; then
		if tcp_open "$host" "$port"; then
			problem "$what at $host:$port (from $vars) accepts connections but does not answer like $what." \
				"  Check that $vars points at the right server and port."
		else
			problem "$what at $host:$port (from $vars) is not reachable." \
				"  This script only starts servers on this machine. Start it there, fix the network," \
				"  or set $vars to a reachable server (unset it for the local default)."
		fi
		return 1
	fi
	# Started meanwhile by another run, or by the package just installed?
	if wait_quick "$kind" "$host" "$port" 1; then
		say "$what on $host:$port is ready"
		return 0
	fi
	if [[ $kind == pg ]] && tcp_open "$host" "$port"; then
		pg_probe "$host" "$port" postgres postgres
		if [[ $PROBE == none ]]; then
			problem "something listens on $host:$port (from $vars) but it does not answer like PostgreSQL." \
				"  Stop it, or set $vars to where PostgreSQL is."
			return 1
		fi
	fi
	if [[ $kind == redis ]] && tcp_open "$host" "$port"; then
		redis_ping "$host" "$port" "" ""
		if [[ $PING_REPLY != -LOADING* ]]; then
			problem "something listens on $host:$port (from $vars) but it is not a Redis answering PING (reply: '${PING_REPLY:-none}')." \
				"  Stop it, or set $vars to where Redis is."
			return 1
		fi
	fi
	say "$what on $host:$port is not answering; bringing it up"
	PG_LOG="" REDIS_LOG=""
	case $kind in
	pg) start_pg "$host" "$port" || return 1 ;;
	redis) start_redis "$host" "$port" || return 1 ;;
	esac
	if ! wait_ready "$kind" "$host" "$port"; then
		logf=$PG_LOG
		if [[ $kind == redis ]]; then logf=$REDIS_LOG; fi
		problem "$what on $host:$port did not become ready within $TIMEOUT s." \
			"  ${logf:+Look at $logf; }check the port is not taken by something else (ss -ltnp)."
		if [[ -n $logf && -r $logf ]]; then
			say "last lines of $logf:"
			tail -n 5 "$logf" >&2 || true
		fi
		return 1
	fi
}

# ------------------------------------------------------------ auth, db

# hba_hint HOST PORT USER: the lines to add for trust, and where.
hba_hint() {
	local host=$1 port=$2 user=$3 line ver name file="the server's pg_hba.conf (SHOW hba_file; says where)"
	local reload="SELECT pg_reload_conf(); as a superuser (or pg_ctl reload)"
	if is_local "$host"; then
		line=$(pg_clusters | awk -v p="$port" '$3 == p' | head -n 1)
		if [[ -n $line ]]; then
			read -r ver name _ <<<"$line"
			file="/etc/postgresql/$ver/$name/pg_hba.conf"
			reload="sudo pg_ctlcluster --skip-systemctl-redirect $ver $name reload"
		fi
		printf '%s\n' \
			"  For local development, let TCP connections from this machine in without a password:" \
			"  add these lines above the other 'host' lines of $file" \
			"      host    all    $user    127.0.0.1/32    trust" \
			"      host    all    $user    ::1/128         trust" \
			"  then reload the configuration: $reload"
	else
		printf '%s\n' "  Ask the server's administrator for access from this machine."
	fi
}

# pg_url_with_db URL DB: the same URL naming another database.
pg_url_with_db() {
	local url=$1 db=$2 base query=""
	if [[ $url == *\?* ]]; then query="?${url#*\?}"; fi
	base=${url%%\?*}
	base=${base#*://}
	base=${base%%/*}
	printf '%s://%s/%s%s' "${url%%://*}" "$base" "$db" "$query"
}

create_db() {
	local var=$1 url=$2 db=$3 host=$4 port=$5 admin out
	if ! have psql; then
		problem "database '$db' (from $var) does not exist on $host:$port and psql is not installed to create it." \
			"  Install the client (sudo apt-get install -y postgresql-client) and run scripts/services.sh --create-db," \
			"  or run CREATE DATABASE \"$db\"; from any PostgreSQL client. (protect cannot create its own database.)"
		return 1
	fi
	admin=$(pg_url_with_db "$url" postgres)
	say "creating database '$db' on $host:$port..."
	if out=$(PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -d "$admin" \
		-c "CREATE DATABASE \"${db//\"/\"\"}\"" 2>&1); then
		say "created database '$db'"
	elif [[ $out == *"already exists"* ]]; then
		say "database '$db' already exists"
	else
		problem "could not create database '$db' on $host:$port: $out"
		return 1
	fi
}

# check_pg VAR HOST PORT URL: can the URL's user log in to its database?
check_pg() {
	local var=$1 host=$2 port=$3 url=$4 user db sslmode out
	parse_url "$url"
	user=${U_USER:-$(id -un)}
	db=${U_PATH:-$user}
	query_param "$U_QUERY" sslmode
	sslmode=$QP
	case $sslmode in
	require | verify-ca | verify-full)
		# The probe speaks plain TCP; only psql can check a TLS login.
		if have psql && PGCONNECT_TIMEOUT=5 psql -X -Atq -d "$url" -c 'select 1' >/dev/null 2>&1; then
			say "PostgreSQL $host:$port: $user can use '$db' ($var, TLS)"
		else
			say "PostgreSQL $host:$port is up; $var uses sslmode=$sslmode so the login is not checked here"
		fi
		return 0
		;;
	esac
	pg_probe "$host" "$port" "$user" "$db"
	case $PROBE in
	ok)
		say "PostgreSQL $host:$port: $user can use '$db' ($var)"
		return 0
		;;
	password)
		if [[ -z $U_PASS ]]; then
			problem "PostgreSQL on $host:$port asks user $user for a password ($PROBE_METHOD) but $var has none." \
				"  Either put it in the URL (postgres://$user:PASSWORD@$host:$port/$db...) or:" \
				"$(hba_hint "$host" "$port" "$user")"
			return 1
		fi
		if have psql; then
			if ! out=$(PGCONNECT_TIMEOUT=5 psql -X -Atq -d "$url" -c 'select 1' 2>&1); then
				problem "PostgreSQL on $host:$port refused the login of $var: ${out}"
				return 1
			fi
			say "PostgreSQL $host:$port: $user can use '$db' ($var, password)"
		else
			say "PostgreSQL $host:$port wants a password for $user; $var has one (not checked: no psql)"
		fi
		return 0
		;;
	error)
		case $PROBE_CODE in
		3D000)
			if ((CREATE_DB)) && [[ $var == PROTECT_DATABASE_URL ]]; then
				create_db "$var" "$url" "$db" "$host" "$port"
				return
			fi
			if [[ $var == PROTECT_DATABASE_URL ]]; then
				say "note: database '$db' does not exist yet on $host:$port; scripts/services.sh --create-db creates it"
				return 0
			fi
			problem "database '$db' (from $var) does not exist on $host:$port." \
				"  Create it (createdb -h $host -p $port -U $user $db) or point $var at an existing database."
			return 1
			;;
		28000 | 28P01)
			if [[ $PROBE_MSG == role*"does not exist"* ]]; then
				problem "PostgreSQL on $host:$port refused $var: $PROBE_MSG." \
					"  Use an existing role in $var (postgres://postgres@...), or create it:" \
					"      sudo -u postgres createuser --superuser $user"
			else
				problem "PostgreSQL on $host:$port refused $var: $PROBE_MSG" \
					"$(hba_hint "$host" "$port" "$user")"
			fi
			return 1
			;;
		*)
			problem "PostgreSQL on $host:$port refused $var: $PROBE_MSG (SQLSTATE $PROBE_CODE)"
			return 1
			;;
		esac
		;;
	*)
		problem "PostgreSQL on $host:$port ($var) accepted the connection but did not answer the login."
		return 1
		;;
	esac
}

check_redis() {
	local var=$1 host=$2 port=$3 url=$4
	parse_url "$url"
	if [[ $U_SCHEME == rediss ]]; then
		say "Redis $host:$port is listening; $var uses TLS (rediss://) so PING is not checked here"
		return 0
	fi
	redis_ping "$host" "$port" "$U_USER" "$U_PASS"
	case $PING_REPLY in
	+PONG) say "Redis $host:$port answers PING ($var)" ;;
	-NOAUTH*)
		problem "Redis on $host:$port needs a password and $var has none: use redis://:PASSWORD@$host:$port/N"
		return 1
		;;
	-WRONGPASS* | -ERR*)
		problem "Redis on $host:$port refused $var: ${PING_REPLY#-}"
		return 1
		;;
	*)
		problem "Redis on $host:$port ($var) gave no PONG (reply: '${PING_REPLY:-none}')"
		return 1
		;;
	esac
}

# ------------------------------------------------------------------ main

# Fast path: everything answers.
DOWN=()
for ep in "${ENDPOINTS[@]}"; do
	IFS='|' read -r kind host port <<<"$ep"
	ready "$kind" "$host" "$port" || DOWN+=("$ep")
done

FAILED_EPS=" "
if ((${#DOWN[@]})); then
	# One run at a time installs and starts servers; the others wait for
	# it, then find the servers up.
	if have flock; then
		exec 9>"${TMPDIR:-/tmp}/protect-services-$(id -u).lock"
		flock -w "$TIMEOUT" 9 || say "another run holds the lock; going ahead"
	fi
	# Install what is missing in one apt-get run.
	PKGS=()
	for ep in "${DOWN[@]}"; do
		IFS='|' read -r kind host port <<<"$ep"
		is_local "$host" || continue
		if [[ $kind == pg ]] && ! pg_installed && [[ " ${PKGS[*]-} " != *" postgresql "* ]]; then
			PKGS+=(postgresql)
		elif [[ $kind == redis ]] && ! have redis-server && [[ " ${PKGS[*]-} " != *" redis-server "* ]]; then
			PKGS+=(redis-server)
		fi
	done
	if ((${#PKGS[@]})); then
		CLUSTERS_BEFORE=$(pg_clusters)
		if ! install_packages "${PKGS[@]}"; then
			INSTALL_FAILED=1
		elif [[ " ${PKGS[*]} " == *" postgresql "* ]]; then
			find_pg_isready
			adopt_new_clusters
		fi
	fi
	for ep in "${DOWN[@]}"; do
		IFS='|' read -r kind host port <<<"$ep"
		ensure_endpoint "$kind" "$host" "$port" || FAILED_EPS+="$ep "
	done
fi

for t in "${TARGETS[@]}"; do
	IFS='|' read -r kind var host port url <<<"$t"
	if [[ $FAILED_EPS == *" $kind|$host|$port "* ]]; then continue; fi
	case $kind in
	pg) check_pg "$var" "$host" "$port" "$url" || true ;;
	redis) check_redis "$var" "$host" "$port" "$url" || true ;;
	esac
done

if [[ $FAILED_EPS != " " ]] && ((${#PROBLEMS[@]} == 0)); then
	problem "could not bring up:$FAILED_EPS"
fi
if ((${#PROBLEMS[@]})); then
	printf '\nservices: not ready:\n' >&2
	for p in "${PROBLEMS[@]}"; do printf -- '- %s\n' "$p" >&2; done
	exit 1
fi
