#!/usr/bin/env python3
"""Harvests action strings and their real encodings from a running OVN 23.03 sandbox.

Usage (with OVN_SB_DB and OVS_RUNDIR exported for the sandbox, see harvest.sh):
  harvest.py corpus  > northd-corpus.txt   # every distinct (pipeline, table, actions)
  harvest.py oracle  > oracle.txt          # actions with ovn-controller's OpenFlow encoding
"""
import json, re, subprocess, sys
from collections import defaultdict

def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout

def sb_table(name, cols):
    out = json.loads(run('ovn-sbctl', '--format=json', '--columns=' + ','.join(cols), 'list', name))
    rows = []
    for r in out['data']:
        rows.append({c: v for c, v in zip(out['headings'], r)})
    return rows

def atom(v):
    if isinstance(v, list) and v and v[0] == 'uuid':
        return v[1]
    if isinstance(v, list) and v and v[0] == 'set':
        return [atom(x) for x in v[1]]
    if isinstance(v, list) and v and v[0] == 'map':
        return {k: atom(x) for k, x in v[1]}
    return v

def lflows():
    return [{k: atom(v) for k, v in r.items()} for r in
            sb_table('Logical_Flow', ['_uuid', 'pipeline', 'table_id', 'actions', 'logical_datapath',
                                      'logical_dp_group', 'external_ids'])]

def corpus():
    seen = set()
    for f in lflows():
        key = (f['pipeline'], f['table_id'], f['actions'])
        seen.add(key)
    for p, t, a in sorted(seen, key=lambda k: (k[0], k[1], k[2])):
        print(f"{p} {t}\t{a}")

def oracle():
    dps = {r['_uuid']: r for r in ({k: atom(v) for k, v in x.items()} for x in
           sb_table('Datapath_Binding', ['_uuid', 'tunnel_key', 'external_ids']))}
    groups_tbl = {r['_uuid']: r for r in ({k: atom(v) for k, v in x.items()} for x in
                  sb_table('Logical_DP_Group', ['_uuid', 'datapaths']))}
    ports = defaultdict(dict)
    for r in sb_table('Port_Binding', ['logical_port', 'tunnel_key', 'datapath']):
        r = {k: atom(v) for k, v in r.items()}
        ports[dps[r['datapath']]['tunnel_key']][r['logical_port']] = r['tunnel_key']
    for r in sb_table('Multicast_Group', ['name', 'tunnel_key', 'datapath']):
        r = {k: atom(v) for k, v in r.items()}
        ports[dps[r['datapath']]['tunnel_key']][r['name']] = r['tunnel_key']
    kind = {dps[u]['tunnel_key']: ('router' if 'logical-router' in dps[u]['external_ids'] else 'switch')
            for u in dps}
    meters = {}
    for r in sb_table('Meter', ['name']):
        pass
    of = defaultdict(list)
    for line in run('ovs-ofctl', '-O', 'OpenFlow15', 'dump-flows', 'br-int', '--no-stats').splitlines():
        m = re.match(r'\s*cookie=0x([0-9a-f]+), table=(\d+), (.*)actions=(.*)$', line)
        if not m:
            continue
        md = re.search(r'metadata=0x([0-9a-f]+)', m.group(3))
        of[(int(m.group(1), 16), int(m.group(2)))].append((int(md.group(1), 16) if md else None, m.group(4)))
    groups = {}
    for line in run('ovs-ofctl', '-O', 'OpenFlow15', 'dump-groups', 'br-int').splitlines():
        m = re.match(r'\s*group_id=(\d+),(.*)$', line)
        if m:
            groups[int(m.group(1))] = m.group(2)
    cases = {}
    for f in lflows():
        cookie = int(f['_uuid'][:8], 16)
        base = 8 if f['pipeline'] == 'ingress' else 40
        flows = [x for x in of.get((cookie, base + f['table_id']), []) if not x[1].startswith('conjunction(')]
        if not flows:
            continue
        md = flows[0][0]
        acts = sorted({a for m, a in flows if m == md})
        if len(acts) != 1 or md is None:
            continue
        enc = acts[0]
        used = []
        def ren(m):
            g = int(m.group(1))
            if g not in used:
                used.append(g)
            return f"group:{used.index(g) + 1}"
        enc = re.sub(r'group:(\d+)', ren, enc)
        names = sorted(set(re.findall(r'"([^"]*)"', f['actions'])))
        pmap = ','.join(f"{n}={ports[md][n]}" for n in names if n in ports[md])
        ctx = f"@ {f['pipeline']} {f['table_id']} {kind[md]} ports: {pmap}"
        body = f"{f['actions']}\n    encodes as {enc}\n"
        for g in used:
            body += f"    uses group: {groups.get(g, '?')}\n"
        cases[(ctx, f['actions'])] = body
    for (ctx, _), body in sorted(cases.items()):
        print(ctx)
        print(body)

if __name__ == '__main__':
    {'corpus': corpus, 'oracle': oracle}[sys.argv[1]]()
