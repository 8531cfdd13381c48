#!/bin/bash
# Regenerates lflow-flows.txt: for every logical flow of the harvest-northd.sh topology, the
# OpenFlow matches ovn-controller 23.03 (chassis ch1) installs for it, found by cookie, table
# and priority, with metadata and actions stripped and conjunction ids renamed to ID.
# The header records what a chassis view needs: ports (datapath key, tunnel key, local?),
# address sets and port groups.
# usage: harvest-lflows.sh SANDBOX_DIR   (needs shared/tools/ref-ovn.sh; stops what it starts)
set -e
D=${1:?usage: harvest-lflows.sh DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REF=${REF_OVN:-/work/shared/tools/ref-ovn.sh}
eval "$($REF start "$D" | tail -1)"
trap '$REF stop "$D"' EXIT
export OVN_NB_DB OVN_SB_DB
# Same topology as harvest-northd.sh.
sed -n '/^nb() /,/^ovn-nbctl --wait=sb sync/p' "$HERE/harvest-northd.sh" | grep -v -- '--wait=sb' > "$D/topo.sh"
. "$D/topo.sh"
ovs-vsctl --db=$DB add-port br-int vif1 -- set interface vif1 type=dummy external_ids:iface-id=vm1
ovs-vsctl --db=$DB add-port br-int vif2 -- set interface vif2 type=dummy external_ids:iface-id=vm2
ovs-vsctl --db=$DB set open . external_ids:ovn-bridge-mappings=physnet:br-phys
ovs-vsctl --db=$DB add-br br-phys -- set bridge br-phys datapath_type=dummy
ovn-nbctl --wait=hv sync
sleep 2
ovn-nbctl --wait=hv sync
ovs-ofctl dump-flows br-int --no-stats > "$D/flows.txt"
for t in Logical_Flow Datapath_Binding Port_Binding Address_Set Port_Group Chassis Logical_DP_Group; do
  ovn-sbctl -f json list $t > "$D/$t.json"
done
python3 "$HERE/lflow_flows.py" "$D" > "$HERE/lflow-flows.txt"
