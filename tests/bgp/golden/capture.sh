#!/usr/bin/env bash
# Capture the golden BGP messages in this directory from real daemons (see README.md).
# Not part of the test run. usage (root, Debian 12 with iproute2 bird2 frr gobgpd tcpdump tshark):
#   tests/bgp/golden/capture.sh
# Builds namespaces bgpgold-{sw,S,A,B,C} (a bridge plus four nodes; 10.77.0.0/24 and fd77::/64
# exist only inside them), runs GoBGP (A, AS 65001), BIRD 2 (B, AS 65002) and FRR bgpd (C, AS
# 65003), each dialling capture_listener.py in S three times: eBGP IPv4 to 10.77.0.10 (AS
# 64512), iBGP IPv4 to 10.77.0.11 and eBGP IPv6 to fd77::10 (IPv6 routes, and IPv4 routes
# with an IPv6 next hop, RFC 8950, where the daemon does it). tcpdump records everything in S;
# extract.py writes one .hex file per (daemon, session) with the messages the daemon sent.
# After ~16 s the iBGP sessions are shut down administratively (Cease NOTIFICATION); 5 s after
# each IPv6 session is up the listener sends a malformed message (see capture_listener.py) to
# draw an error NOTIFICATION.
# Everything is removed on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
WORK=$(mktemp -d /tmp/bgpgold.XXXXXX)
chmod 755 "$WORK"
P=bgpgold
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for f in "$WORK"/frr/*.pid "$WORK"/bird.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  sleep 1
  for ns in S A B C sw; do ip netns del "$P-$ns" 2>/dev/null; done
  echo "work files kept in $WORK"
}
trap cleanup EXIT

# ---- network: bridge namespace + one veth per node -------------------------------------------
ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set lo up
ip -n "$P-sw" link set br0 up
for n in S,10.77.0.10,fd77::10 A,10.77.0.1,fd77::1 B,10.77.0.2,fd77::2 C,10.77.0.3,fd77::3; do
  IFS=, read -r id v4 v6 <<<"$n"
  ns=$P-$id
  ip netns add "$ns"
  ip link add "v$id" netns "$ns" type veth peer name "sw$id" netns "$P-sw"
  ip -n "$P-sw" link set "sw$id" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  # no SLAAC: FRR sends router advertisements once extended next hop is configured, and a
  # SLAAC address would become the daemons' source address
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0
  ip -n "$ns" addr add "$v4/24" dev "v$id"
  ip -n "$ns" addr add "$v6/64" dev "v$id" nodad
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "v$id" up
done
ip -n "$P-S" addr add 10.77.0.11/24 dev vS
ip -n "$P-S" addr add fd77::11/64 dev vS nodad

# ---- capture + listener ------------------------------------------------------------------------
ip netns exec "$P-S" tcpdump -i vS -U -w "$WORK/capture.pcap" tcp port 179 2>"$WORK/tcpdump.log" &
PIDS+=($!)
sleep 1
ip netns exec "$P-S" env PYTHONPATH="$REPO" python3 "$HERE/capture_listener.py" \
  --duration 45 --bad-after 7 >"$WORK/listener.log" 2>&1 &
PIDS+=($!)
sleep 1

# ---- GoBGP (A) ---------------------------------------------------------------------------------
cat >"$WORK/gobgpd.toml" <<CONF
[global.config]
  as = 65001
  router-id = "10.77.0.1"
CONF
for p in "10.77.0.10 64512 ipv4-unicast" "10.77.0.11 65001 ipv4-unicast" "fd77::10 64512 ipv6-unicast ipv4-unicast"; do
  set -- $p
  cat >>"$WORK/gobgpd.toml" <<CONF

[[neighbors]]
  [neighbors.config]
    neighbor-address = "$1"
    peer-as = $2
  [neighbors.transport.config]
    local-address = "$([[ $1 == *:* ]] && echo fd77::1 || echo 10.77.0.1)"
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "$3"
CONF
  if [ -n "${4:-}" ]; then
    cat >>"$WORK/gobgpd.toml" <<CONF
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "$4"
CONF
  fi
done
ip netns exec "$P-A" setsid gobgpd -f "$WORK/gobgpd.toml" -p --pprof-disable \
  --api-hosts "unix://$WORK/gobgpd.sock" >"$WORK/gobgpd.log" 2>&1 </dev/null &
PIDS+=($!)

# ---- BIRD 2 (B) --------------------------------------------------------------------------------
cat >"$WORK/bird.conf" <<CONF
log "$WORK/bird.log" all;
router id 10.77.0.2;
protocol device { scan time 10; }
protocol static st4 { ipv4; route 10.78.2.0/24 blackhole; route 10.78.20.0/23 blackhole; }
protocol static st6 { ipv6; route fd78:2::/48 blackhole; route fd78:20::/64 blackhole; }
filter out_f {
  bgp_community.add((65000, 200));
  bgp_large_community.add((65000, 2, 3));
  if net = 10.78.2.0/24 then bgp_med = 22;
  accept;
}
template bgp lab { local as 65002; hold time 90; connect delay time 1; error wait time 1, 10; }
protocol bgp ebgp4 from lab { local 10.77.0.2; neighbor 10.77.0.10 as 64512; ipv4 { import all; export filter out_f; }; }
protocol bgp ibgp4 from lab { local 10.77.0.2; neighbor 10.77.0.11 as 65002; ipv4 { import all; export filter out_f; next hop self; }; }
protocol bgp ebgp6 from lab {
  local fd77::2; neighbor fd77::10 as 64512;
  ipv4 { import all; export filter out_f; extended next hop on; };  # RFC 8950
  ipv6 { import all; export filter out_f; };
}
CONF
ip netns exec "$P-B" bird -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid"

# ---- FRR (C) -----------------------------------------------------------------------------------
F=$WORK/frr
mkdir -p "$F"
printf 'hostname gold\nlog file %s/zebra.log\n' "$F" >"$F/zebra.conf"
cat >"$F/bgpd.conf" <<CONF
frr defaults traditional
hostname gold
log file $F/bgpd.log
!
route-map SET permit 10
 set community 65000:300
 set large-community 65000:3:4
exit
!
router bgp 65003
 bgp router-id 10.77.0.3
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor 10.77.0.10 remote-as 64512
 neighbor 10.77.0.10 timers connect 1
 neighbor 10.77.0.11 remote-as 65003
 neighbor 10.77.0.11 timers connect 1
 neighbor fd77::10 remote-as 64512
 neighbor fd77::10 timers connect 1
 neighbor fd77::10 capability extended-nexthop
 address-family ipv4 unicast
  network 10.78.3.0/24 route-map SET
  network 10.78.30.0/25 route-map SET
  neighbor 10.77.0.10 activate
  neighbor 10.77.0.11 activate
  neighbor fd77::10 activate
 exit-address-family
 address-family ipv6 unicast
  network fd78:3::/48 route-map SET
  neighbor fd77::10 activate
 exit-address-family
exit
CONF
chown -R frr:frr "$F"
common=(-d -u frr -g frr -P 0 -z "$F/zserv.api" --vty_socket "$F")
ip netns exec "$P-C" /usr/lib/frr/zebra "${common[@]}" -f "$F/zebra.conf" -i "$F/zebra.pid" 2>/dev/null
sleep 0.5
ip netns exec "$P-C" /usr/lib/frr/bgpd "${common[@]}" -f "$F/bgpd.conf" -i "$F/bgpd.pid"

# ---- GoBGP routes ------------------------------------------------------------------------------
for _ in $(seq 50); do [ -S "$WORK/gobgpd.sock" ] && break; sleep 0.1; done
G=(gobgp --target "unix://$WORK/gobgpd.sock")
"${G[@]}" global rib add -a ipv4 10.78.1.0/24 community 65000:100 large-community 65000:1:2 med 11
"${G[@]}" global rib add -a ipv6 fd78:1::/48 community 65000:101 large-community 65000:1:3

sleep 16
echo "== sessions"; "${G[@]}" neighbor || true
birdc -s "$WORK/bird.ctl" show protocols || true
vtysh --vty_socket "$F" -c "show bgp summary" || true

# ---- administrative shutdown of the iBGP sessions: Cease NOTIFICATIONs ------------------------
birdc -s "$WORK/bird.ctl" disable ibgp4 '"golden capture"' || birdc -s "$WORK/bird.ctl" disable ibgp4
vtysh --vty_socket "$F" -c "configure terminal" -c "router bgp 65003" \
  -c "neighbor 10.77.0.11 shutdown message golden capture"
"${G[@]}" neighbor 10.77.0.11 disable --reason "golden capture" || true
sleep 6

# ---- versions, extraction ----------------------------------------------------------------------
{
  echo "BIRD: $(bird --version 2>&1 | head -1)"
  echo "FRR: $(/usr/lib/frr/bgpd --version | head -1)"
  echo "GoBGP: $(gobgpd --version)"
  echo "tshark: $(tshark --version | head -1)"
  echo "kernel: $(uname -r)"
} >"$WORK/versions.txt"
cat "$WORK/versions.txt"
kill "${PIDS[1]}" 2>/dev/null || true
sleep 1
kill "${PIDS[0]}" 2>/dev/null || true
sleep 1
PYTHONPATH="$REPO" python3 "$HERE/extract.py" "$WORK/capture.pcap" "$WORK/versions.txt" "$HERE"
