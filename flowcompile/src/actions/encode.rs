//! Encoding of parsed actions into OpenFlow actions, as ovn-controller 23.03 does.
//!
//! The table layout is ovn-controller 23.03's (see [`tables`]); registers follow OVN's
//! conventions: logical ports in `reg14`/`reg15`, flags in `reg10`, conntrack zones in the low
//! 16 bits of `reg11` (DNAT), `reg12` (SNAT) and `reg13` (ordinary conntrack).  Packet
//! generators (`arp { ... }` and friends) become `controller(userdata=...)` actions whose
//! payload carries the nested actions as OpenFlow 1.5 bytes.
//!
//! What it does not do: install groups or meters.  Group and meter ids come from the
//! caller's [`EncodeContext`], which is handed the group description OVN would install.

use std::net::IpAddr;

use super::ast::*;
use super::ofp::{encode_of15, Nat, OfAction, Subfield};
use super::options::{encode_dhcpv4, encode_dhcpv6, encode_nd_ra, OptTable, OptValue};
use super::{EncodeError, MAX_NESTING};
use crate::lex::format_hex;
use crate::parse::FieldRef;
use crate::symtab::{OfField, SymbolKind, Symtab};

/// ovn-controller 23.03's OpenFlow table numbers.
pub mod tables {
    /// First logical ingress table.
    pub const LOG_INGRESS_PIPELINE: u8 = 8;
    /// Large-packet detection, start of the output section (the ingress pipeline's
    /// `output`).
    pub const OUTPUT_LARGE_PKT_DETECT: u8 = 37;
    /// Large-packet processing.
    pub const OUTPUT_LARGE_PKT_PROCESS: u8 = 38;
    /// Output to remote chassis.
    pub const REMOTE_OUTPUT: u8 = 39;
    /// Output to local ports.
    pub const LOCAL_OUTPUT: u8 = 40;
    /// Loopback check.
    pub const CHECK_LOOPBACK: u8 = 41;
    /// First logical egress table.
    pub const LOG_EGRESS_PIPELINE: u8 = 42;
    /// Saves `in_port` (the egress pipeline's `output`).
    pub const SAVE_INPORT: u8 = 64;
    /// Logical to physical.
    pub const LOG_TO_PHY: u8 = 65;
    /// MAC bindings by (port, IP) (`get_arp`, `lookup_arp_ip`).
    pub const MAC_BINDING: u8 = 66;
    /// MAC binding existence (`lookup_arp`).
    pub const MAC_LOOKUP: u8 = 67;
    /// `chk_lb_hairpin`
    pub const CHK_LB_HAIRPIN: u8 = 68;
    /// `chk_lb_hairpin_reply`
    pub const CHK_LB_HAIRPIN_REPLY: u8 = 69;
    /// `ct_snat_to_vip`
    pub const CT_SNAT_HAIRPIN: u8 = 70;
    /// `get_fdb`
    pub const GET_FDB: u8 = 71;
    /// `lookup_fdb`
    pub const LOOKUP_FDB: u8 = 72;
    /// `check_in_port_sec`
    pub const CHK_IN_PORT_SEC: u8 = 73;
    /// IPv6 ND part of `check_in_port_sec`.
    pub const CHK_IN_PORT_SEC_ND: u8 = 74;
    /// `check_out_port_sec`
    pub const CHK_OUT_PORT_SEC: u8 = 75;
    /// `chk_ecmp_nh_mac`
    pub const ECMP_NH_MAC: u8 = 76;
    /// `chk_ecmp_nh`
    pub const ECMP_NH: u8 = 77;
    /// `chk_lb_aff` / `commit_lb_aff`
    pub const CHK_LB_AFFINITY: u8 = 78;
}

/// pinctrl opcodes (the first 4 bytes of `controller(userdata=...)`).
mod opcode {
    pub(super) const ARP: u32 = 0;
    pub(super) const PUT_ARP: u32 = 1;
    pub(super) const PUT_DHCP_OPTS: u32 = 2;
    pub(super) const ND_NA: u32 = 3;
    pub(super) const PUT_ND: u32 = 4;
    pub(super) const PUT_DHCPV6_OPTS: u32 = 5;
    pub(super) const DNS_LOOKUP: u32 = 6;
    pub(super) const LOG: u32 = 7;
    pub(super) const PUT_ND_RA_OPTS: u32 = 8;
    pub(super) const ND_NS: u32 = 9;
    pub(super) const ICMP: u32 = 10;
    pub(super) const TCP_RESET: u32 = 11;
    pub(super) const ND_NA_ROUTER: u32 = 12;
    pub(super) const PUT_ICMP4_FRAG_MTU: u32 = 13;
    pub(super) const ICMP4_ERROR: u32 = 14;
    pub(super) const EVENT: u32 = 15;
    pub(super) const IGMP: u32 = 16;
    pub(super) const BIND_VPORT: u32 = 17;
    pub(super) const HANDLE_SVC_CHECK: u32 = 18;
    pub(super) const DHCP6_SERVER: u32 = 19;
    pub(super) const ICMP6_ERROR: u32 = 20;
    pub(super) const PUT_ICMP6_FRAG_MTU: u32 = 21;
    pub(super) const REJECT: u32 = 22;
    pub(super) const HANDLE_BFD_MSG: u32 = 23;
    pub(super) const SCTP_ABORT: u32 = 24;
    pub(super) const PUT_FDB: u32 = 25;
}

/// Bits of `reg10` (OVN's `MLF_*` flags) used as function results.
mod flag {
    pub(super) const LOOKUP_MAC: u32 = 6;
    pub(super) const LOOKUP_LB_HAIRPIN: u32 = 7;
    pub(super) const LOOKUP_FDB: u32 = 8;
    pub(super) const CHECK_PORT_SEC: u32 = 12;
    pub(super) const LOOKUP_COMMIT_ECMP_NH: u32 = 13;
    pub(super) const USE_LB_AFF_SESSION: u32 = 14;
}

/// What the encoder needs from the caller: name lookups and id allocation for the flow's
/// datapath on this chassis.
pub trait EncodeContext {
    /// Tunnel key of a logical port or multicast group (by name) on the flow's datapath.
    fn port_key(&self, name: &str) -> Option<u32>;
    /// OpenFlow meter id for a meter name (`log(meter="...")`, `set_meter`); `None` leaves
    /// the action unmetered (`set_meter` is then dropped).
    fn meter_id(&mut self, name: &str) -> Option<u32>;
    /// A group id for the OpenFlow group with this description (the text ovn-controller
    /// would pass to `ovs-ofctl add-group`, without `group_id=`); equal descriptions should
    /// get equal ids.
    fn group_id(&mut self, description: &str) -> u32;
    /// The OpenFlow port of a logical port bound on this chassis (for `fwd_group` with
    /// liveness); by default none, which leaves such buckets out as ovn-controller does for
    /// remote ports.
    fn local_ofport(&self, _name: &str) -> Option<u32> {
        None
    }
    /// The OVS `Flow_Sample_Collector_Set` id configured for an OVN collector set, if any;
    /// `sample` encodes to nothing without one (the default).
    fn sample_collector(&self, _set: u32) -> Option<u32> {
        None
    }
    /// The tunnel key of the datapath being encoded for: `sample` puts it in the low 24 bits
    /// of the observation domain id. By default 0.
    fn datapath_key(&self) -> u32 {
        0
    }
    /// The cookie of the logical flow being encoded (the first 32 bits of its UUID), which
    /// `sample(..., obs_point=$cookie)` uses as the observation point id. By default 0.
    fn flow_cookie(&self) -> u32 {
        0
    }
}

/// Where the flow being encoded sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPosition {
    /// Its pipeline.
    pub pipeline: Pipeline,
    /// Its logical table.
    pub table: u8,
    /// True for a logical switch datapath, false for a logical router (conntrack zones and
    /// some encodings differ).
    pub is_switch: bool,
}

pub(super) struct Encoder<'a> {
    pub(super) symtab: &'a Symtab,
    pub(super) pos: FlowPosition,
    pub(super) ctx: &'a mut dyn EncodeContext,
    pub(super) dhcpv4: &'a OptTable,
    pub(super) dhcpv6: &'a OptTable,
    pub(super) nd_ra: &'a OptTable,
    pub(super) depth: usize,
}

fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// The bits of the OpenFlow field a field reference names.
fn sub_of(symtab: &Symtab, f: &FieldRef) -> Result<Subfield, EncodeError> {
    let (root, root_ofs) = symtab.resolve(f.symbol);
    let (ofs, n) = f.range(symtab);
    match symtab.get(root).kind {
        SymbolKind::Field(of) => Ok(Subfield::new(of, root_ofs + ofs, n)),
        SymbolKind::String(of) => Ok(Subfield::whole(of)),
        _ => Err(EncodeError::NotAField(f.name.to_string())),
    }
}

/// `set_field` of `value` (under `mask`, or all of `s`) to the bits `s`.
fn set_field_of(s: Subfield, value: u128, mask: Option<u128>) -> OfAction {
    let m = mask.unwrap_or_else(|| ones(s.n_bits)) & ones(s.n_bits);
    OfAction::SetField {
        field: s.field,
        value: (value & m) << s.ofs,
        mask: m << s.ofs,
    }
}

/// What the top-level load `dst = value;` (an integer constant) encodes to, when that is one
/// `set_field` that depends on nothing else (not an OVN-only field); `None` otherwise.
pub(crate) fn int_load(
    symtab: &Symtab,
    dst: &FieldRef,
    value: &crate::lex::IntConst,
) -> Option<OfAction> {
    let (root, _) = symtab.resolve(dst.symbol);
    if matches!(symtab.get(root).kind, SymbolKind::OvnOnly) {
        return None;
    }
    let s = sub_of(symtab, dst).ok()?;
    Some(set_field_of(s, value.value, value.mask))
}

fn whole(f: OfField) -> Subfield {
    Subfield::whole(f)
}

const REG0: OfField = OfField::Reg(0);
const REG10: OfField = OfField::Reg(10);
const INPORT: OfField = OfField::Reg(14);
const OUTPORT: OfField = OfField::Reg(15);

fn zone(reg: u8) -> Subfield {
    Subfield::new(OfField::Reg(reg), 0, 16)
}

fn userdata(op: u32) -> Vec<u8> {
    let mut v = op.to_be_bytes().to_vec();
    v.extend_from_slice(&[0; 4]);
    v
}

/// `actions` with `meter_id` on every controller action without a meter of its own: the
/// `controller_meter` (CoPP) of a logical flow, as ovn-controller applies it to the packets the
/// flow hands it (`log` keeps its own meter).
pub fn with_controller_meter(actions: &[OfAction], meter_id: u32) -> Vec<OfAction> {
    let log = opcode::LOG.to_be_bytes();
    actions
        .iter()
        .map(|a| match a {
            OfAction::Controller {
                userdata,
                pause,
                meter_id: None,
            } if !userdata.starts_with(&log) => OfAction::Controller {
                userdata: meter_nested_controllers(userdata, meter_id),
                pause: *pause,
                meter_id: Some(meter_id),
            },
            OfAction::Clone(inner) => OfAction::Clone(with_controller_meter(inner, meter_id)),
            other => other.clone(),
        })
        .collect()
}

/// The userdata of a controller action with `meter_id` added to the controller actions its
/// nested actions hold (the `icmp4.frag_mtu` of an `icmp4_error { ... }`): ovn-controller
/// gives every controller action a flow encodes the flow's controller meter.  Userdata of
/// opcodes without nested actions is returned as is.
fn meter_nested_controllers(userdata: &[u8], meter_id: u32) -> Vec<u8> {
    const NESTED: [u32; 10] = [
        opcode::ARP,
        opcode::ND_NA,
        opcode::ND_NA_ROUTER,
        opcode::ND_NS,
        opcode::ICMP,
        opcode::ICMP4_ERROR,
        opcode::ICMP6_ERROR,
        opcode::TCP_RESET,
        opcode::SCTP_ABORT,
        opcode::REJECT,
    ];
    let op = userdata
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes);
    if !op.is_some_and(|op| NESTED.contains(&op)) || userdata.len() < 8 {
        return userdata.to_vec();
    }
    let mut out = userdata[..8].to_vec();
    let mut rest = &userdata[8..];
    while rest.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if len < 8 || len > rest.len() {
            break;
        }
        let (action, tail) = rest.split_at(len);
        rest = tail;
        // NXAST_CONTROLLER2: type 0xffff, vendor 0x2320, subtype 37, then properties.
        let is_controller2 = action.len() >= 16
            && action[..2] == [0xff, 0xff]
            && action[4..8] == [0, 0, 0x23, 0x20]
            && action[8..10] == [0, 37];
        let mut has_meter = false;
        let mut props = action.get(16..).unwrap_or_default();
        while is_controller2 && props.len() >= 4 {
            let plen = usize::from(u16::from_be_bytes([props[2], props[3]])).div_ceil(8) * 8;
            has_meter |= props[..2] == [0, 5];
            props = props.get(plen.max(8)..).unwrap_or_default();
        }
        let start = out.len();
        out.extend_from_slice(action);
        if is_controller2 && !has_meter {
            out.extend_from_slice(&[0, 5, 0, 8]);
            out.extend_from_slice(&meter_id.to_be_bytes());
            let n = u16::try_from(len + 8).unwrap_or(u16::MAX);
            out[start + 2..start + 4].copy_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(rest);
    out
}

fn controller(op: u32) -> OfAction {
    OfAction::Controller {
        userdata: userdata(op),
        pause: false,
        meter_id: None,
    }
}

fn base_table(p: Pipeline) -> u8 {
    match p {
        Pipeline::Ingress => tables::LOG_INGRESS_PIPELINE,
        Pipeline::Egress => tables::LOG_EGRESS_PIPELINE,
    }
}

/// Pushes moves of `(dst, src)` pairs through the stack so that every `dst` holds its `src`
/// (OVN's `encode_setup_args`), and returns the pairs that need restoring.
fn setup_args(pairs: &[(Subfield, Subfield)], out: &mut Vec<OfAction>) -> Vec<Subfield> {
    let pairs: Vec<&(Subfield, Subfield)> = pairs.iter().filter(|(d, s)| d != s).collect();
    for (d, _) in &pairs {
        out.push(OfAction::Push(*d));
    }
    for (_, s) in pairs.iter().rev() {
        out.push(OfAction::Push(*s));
    }
    for (d, _) in &pairs {
        out.push(OfAction::Pop(*d));
    }
    pairs.iter().map(|(d, _)| *d).collect()
}

fn restore_args(saved: &[Subfield], out: &mut Vec<OfAction>) {
    for d in saved.iter().rev() {
        out.push(OfAction::Pop(*d));
    }
}

fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Encoder<'_> {
    fn next_table(&self) -> u8 {
        base_table(self.pos.pipeline)
            .saturating_add(self.pos.table)
            .saturating_add(1)
    }

    fn output_table(&self) -> u8 {
        match self.pos.pipeline {
            Pipeline::Ingress => tables::OUTPUT_LARGE_PKT_DETECT,
            Pipeline::Egress => tables::SAVE_INPORT,
        }
    }

    fn ct_zone(&self) -> Subfield {
        zone(if self.pos.is_switch { 13 } else { 11 })
    }

    /// The OpenFlow bits a field reference names.
    fn sub(&self, f: &FieldRef) -> Result<Subfield, EncodeError> {
        sub_of(self.symtab, f)
    }

    fn is_ovn_field(&self, f: &FieldRef) -> bool {
        let (root, _) = self.symtab.resolve(f.symbol);
        matches!(self.symtab.get(root).kind, SymbolKind::OvnOnly)
    }

    /// `controller(userdata=OP.00000000.HEADER.OFS...)` for a result bit.
    fn result_header(&self, op: u32, dst: &FieldRef) -> Result<Vec<u8>, EncodeError> {
        let s = self.sub(dst)?;
        let mut u = userdata(op);
        let mut probe = Vec::new();
        encode_of15(
            &[OfAction::SetField {
                field: s.field,
                value: 0,
                mask: u128::MAX,
            }],
            &mut probe,
        )?;
        u.extend_from_slice(&probe[4..8]);
        u.extend_from_slice(&s.ofs.to_be_bytes());
        Ok(u)
    }

    pub(super) fn encode_list(
        &mut self,
        actions: &[Action],
        out: &mut Vec<OfAction>,
    ) -> Result<(), EncodeError> {
        for a in actions {
            self.encode(a, out)?;
        }
        Ok(())
    }

    fn nested(&mut self, actions: &[Action]) -> Result<Vec<OfAction>, EncodeError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(EncodeError::TooDeep);
        }
        let mut v = Vec::new();
        self.encode_list(actions, &mut v)?;
        self.depth -= 1;
        Ok(v)
    }

    fn set_field(&self, s: Subfield, value: u128, mask: Option<u128>) -> OfAction {
        set_field_of(s, value, mask)
    }

    fn result_bit(
        &self,
        bit: u32,
        table: u8,
        dst: &FieldRef,
        out: &mut Vec<OfAction>,
    ) -> Result<(), EncodeError> {
        out.push(OfAction::SetField {
            field: REG10,
            value: 0,
            mask: 1 << bit,
        });
        out.push(OfAction::Resubmit(table));
        out.push(OfAction::Move {
            src: Subfield::new(REG10, bit, 1),
            dst: self.sub(dst)?,
        });
        Ok(())
    }

    fn encode(&mut self, a: &Action, out: &mut Vec<OfAction>) -> Result<(), EncodeError> {
        match a {
            Action::Next {
                pipeline, table, ..
            } => {
                out.push(OfAction::Resubmit(
                    base_table(*pipeline).saturating_add(*table),
                ));
            }
            Action::Output => out.push(OfAction::Resubmit(self.output_table())),
            Action::Load { dst, value } => {
                if self.is_ovn_field(dst) {
                    let Value::Int(i) = value else { return Ok(()) };
                    let (op, bytes) = if dst.name == "icmp4.frag_mtu" {
                        (
                            opcode::PUT_ICMP4_FRAG_MTU,
                            (i.value as u16).to_be_bytes().to_vec(),
                        )
                    } else {
                        (
                            opcode::PUT_ICMP6_FRAG_MTU,
                            (i.value as u32).to_be_bytes().to_vec(),
                        )
                    };
                    let mut u = userdata(op);
                    u.extend_from_slice(&bytes);
                    out.push(OfAction::Controller {
                        userdata: u,
                        pause: true,
                        meter_id: None,
                    });
                    return Ok(());
                }
                let s = self.sub(dst)?;
                match value {
                    Value::Int(i) => out.push(self.set_field(s, i.value, i.mask)),
                    Value::Str(name) => {
                        let key = if name.is_empty() {
                            0
                        } else {
                            self.ctx.port_key(name).unwrap_or(0)
                        };
                        out.push(self.set_field(s, u128::from(key), None));
                    }
                }
            }
            Action::Move { dst, src } => {
                out.push(OfAction::Move {
                    src: self.sub(src)?,
                    dst: self.sub(dst)?,
                });
            }
            Action::Exchange { a, b } => {
                let (sa, sb) = (self.sub(a)?, self.sub(b)?);
                out.extend([
                    OfAction::Push(sb),
                    OfAction::Push(sa),
                    OfAction::Pop(sb),
                    OfAction::Pop(sa),
                ]);
            }
            Action::Push(f) => out.push(OfAction::Push(self.sub(f)?)),
            Action::Pop(f) => out.push(OfAction::Pop(self.sub(f)?)),
            Action::DecTtl => out.push(OfAction::DecTtl),
            Action::CtNext => out.push(OfAction::Ct {
                commit: false,
                table: Some(self.next_table()),
                zone: self.ct_zone(),
                nat: None,
                exec: Vec::new(),
            }),
            Action::CtCommit(inner) => {
                let exec = self.nested(inner)?;
                if self.depth == 0 && !out.is_empty() {
                    // ovn-controller 23.03 finishes the `ct` action at the start of the
                    // flow's action buffer instead of at the `ct` itself, so the first action
                    // swallows everything up to and including the `ct`: only it survives.
                    out.truncate(1);
                    return Ok(());
                }
                out.push(OfAction::Ct {
                    commit: true,
                    table: None,
                    zone: self.ct_zone(),
                    nat: Some(Nat {
                        kind: Some("src"),
                        ip: None,
                        ports: None,
                        random: false,
                    }),
                    exec,
                });
            }
            Action::CtCommitNat => out.push(OfAction::Ct {
                commit: true,
                table: Some(self.next_table()),
                zone: self.ct_zone(),
                nat: Some(Nat {
                    kind: None,
                    ip: None,
                    ports: None,
                    random: false,
                }),
                exec: Vec::new(),
            }),
            Action::CtNat { kind, ip, ports } => {
                let reg = match kind {
                    CtNatKind::Dnat | CtNatKind::DnatInCzone | CtNatKind::SnatInCzone => 11,
                    CtNatKind::Snat => 12,
                };
                let dir = match kind {
                    CtNatKind::Dnat | CtNatKind::DnatInCzone => "dst",
                    CtNatKind::Snat | CtNatKind::SnatInCzone => "src",
                };
                let nat = match ip {
                    Some(ip) => Nat {
                        kind: Some(dir),
                        ip: Some(*ip),
                        ports: *ports,
                        random: false,
                    },
                    None => Nat {
                        kind: None,
                        ip: None,
                        ports: None,
                        random: false,
                    },
                };
                out.push(OfAction::Ct {
                    commit: ip.is_some(),
                    table: Some(self.next_table()),
                    zone: zone(reg),
                    nat: Some(nat),
                    exec: Vec::new(),
                });
            }
            Action::CtLb(lb) => self.ct_lb(lb, out),
            Action::CtClear => out.push(OfAction::CtClear),
            Action::CtSnatToVip => out.push(OfAction::Resubmit(tables::CT_SNAT_HAIRPIN)),
            Action::Nested { kind, actions } => {
                let inner = self.nested(actions)?;
                if *kind == NestedKind::Clone {
                    out.push(OfAction::Clone(inner));
                    return Ok(());
                }
                let op = match kind {
                    NestedKind::Arp => opcode::ARP,
                    NestedKind::NdNa => opcode::ND_NA,
                    NestedKind::NdNaRouter => opcode::ND_NA_ROUTER,
                    NestedKind::NdNs => opcode::ND_NS,
                    NestedKind::Icmp4 | NestedKind::Icmp6 => opcode::ICMP,
                    NestedKind::Icmp4Error => opcode::ICMP4_ERROR,
                    NestedKind::Icmp6Error => opcode::ICMP6_ERROR,
                    NestedKind::TcpReset => opcode::TCP_RESET,
                    NestedKind::SctpAbort => opcode::SCTP_ABORT,
                    NestedKind::Reject | NestedKind::Clone => opcode::REJECT,
                };
                let mut u = userdata(op);
                encode_of15(&inner, &mut u)?;
                out.push(OfAction::Controller {
                    userdata: u,
                    pause: false,
                    meter_id: None,
                });
            }
            Action::GetMac { family, port, ip } => {
                let ip_dst = self.mac_binding_ip(*family);
                let saved = setup_args(
                    &[(whole(OUTPORT), self.sub(port)?), (ip_dst, self.sub(ip)?)],
                    out,
                );
                out.push(OfAction::SetField {
                    field: OfField::EthDst,
                    value: 0,
                    mask: ones(48),
                });
                out.push(OfAction::Resubmit(tables::MAC_BINDING));
                restore_args(&saved, out);
            }
            Action::PutMac {
                family,
                port,
                ip,
                mac,
            } => {
                let ip_dst = self.mac_binding_ip(*family);
                let saved = setup_args(
                    &[
                        (whole(INPORT), self.sub(port)?),
                        (ip_dst, self.sub(ip)?),
                        (whole(OfField::EthSrc), self.sub(mac)?),
                    ],
                    out,
                );
                let op = if *family == Family::V4 {
                    opcode::PUT_ARP
                } else {
                    opcode::PUT_ND
                };
                out.push(controller(op));
                restore_args(&saved, out);
            }
            Action::LookupMac {
                family,
                dst,
                port,
                ip,
                mac,
            } => {
                let ip_dst = self.mac_binding_ip(*family);
                let saved = setup_args(
                    &[
                        (whole(INPORT), self.sub(port)?),
                        (ip_dst, self.sub(ip)?),
                        (whole(OfField::EthSrc), self.sub(mac)?),
                    ],
                    out,
                );
                self.result_bit(flag::LOOKUP_MAC, tables::MAC_LOOKUP, dst, out)?;
                restore_args(&saved, out);
            }
            Action::LookupMacIp {
                family,
                dst,
                port,
                ip,
            } => {
                let ip_dst = self.mac_binding_ip(*family);
                let saved = setup_args(
                    &[(whole(OUTPORT), self.sub(port)?), (ip_dst, self.sub(ip)?)],
                    out,
                );
                out.push(OfAction::Push(whole(OfField::EthDst)));
                self.result_bit(flag::LOOKUP_MAC, tables::MAC_BINDING, dst, out)?;
                out.push(OfAction::Pop(whole(OfField::EthDst)));
                restore_args(&saved, out);
            }
            Action::PutOpts { kind, dst, options } => {
                let (table, op) = match kind {
                    OptsKind::Dhcpv4 => (self.dhcpv4, opcode::PUT_DHCP_OPTS),
                    OptsKind::Dhcpv6 => (self.dhcpv6, opcode::PUT_DHCPV6_OPTS),
                    OptsKind::NdRa => (self.nd_ra, opcode::PUT_ND_RA_OPTS),
                };
                let values: Vec<OptValue<'_>> = options
                    .iter()
                    .filter_map(|o| table.get(&o.name).map(|d| (d, &o.value)))
                    .collect();
                let mut u = self.result_header(op, dst)?;
                match kind {
                    OptsKind::Dhcpv4 => encode_dhcpv4(&values, &mut u),
                    OptsKind::Dhcpv6 => encode_dhcpv6(&values, &mut u),
                    OptsKind::NdRa => encode_nd_ra(&values, &mut u),
                }
                out.push(OfAction::Controller {
                    userdata: u,
                    pause: true,
                    meter_id: None,
                });
            }
            Action::Result { func, dst } => {
                let (bit, table) = match func {
                    ResultFn::ChkLbHairpin => (flag::LOOKUP_LB_HAIRPIN, tables::CHK_LB_HAIRPIN),
                    ResultFn::ChkLbHairpinReply => {
                        (flag::LOOKUP_LB_HAIRPIN, tables::CHK_LB_HAIRPIN_REPLY)
                    }
                    ResultFn::CheckInPortSec => (flag::CHECK_PORT_SEC, tables::CHK_IN_PORT_SEC),
                    ResultFn::CheckOutPortSec => (flag::CHECK_PORT_SEC, tables::CHK_OUT_PORT_SEC),
                    ResultFn::ChkLbAff => (flag::USE_LB_AFF_SESSION, tables::CHK_LB_AFFINITY),
                    ResultFn::ChkEcmpNhMac => (flag::LOOKUP_COMMIT_ECMP_NH, tables::ECMP_NH_MAC),
                    ResultFn::ChkEcmpNh => (flag::LOOKUP_COMMIT_ECMP_NH, tables::ECMP_NH),
                    ResultFn::DnsLookup => {
                        let u = self.result_header(opcode::DNS_LOOKUP, dst)?;
                        out.push(OfAction::Controller {
                            userdata: u,
                            pause: true,
                            meter_id: None,
                        });
                        return Ok(());
                    }
                };
                self.result_bit(bit, table, dst, out)?;
            }
            Action::CheckPktLarger { dst, len } => {
                out.push(OfAction::CheckPktLarger {
                    len: *len,
                    dst: self.sub(dst)?,
                });
            }
            Action::GetFdb { dst, mac } => {
                let saved = setup_args(&[(whole(OfField::EthDst), self.sub(mac)?)], out);
                out.push(OfAction::SetField {
                    field: OUTPORT,
                    value: 0,
                    mask: ones(32),
                });
                out.push(OfAction::Resubmit(tables::GET_FDB));
                restore_args(&saved, out);
                let d = self.sub(dst)?;
                if d != whole(OUTPORT) {
                    out.push(OfAction::Move {
                        src: whole(OUTPORT),
                        dst: d,
                    });
                }
            }
            Action::PutFdb { port: _, mac } => {
                let saved = setup_args(&[(whole(OfField::EthSrc), self.sub(mac)?)], out);
                out.push(controller(opcode::PUT_FDB));
                restore_args(&saved, out);
            }
            Action::LookupFdb { dst, port, mac } => {
                let saved = setup_args(
                    &[
                        (whole(INPORT), self.sub(port)?),
                        (whole(OfField::EthSrc), self.sub(mac)?),
                    ],
                    out,
                );
                out.push(OfAction::SetField {
                    field: REG10,
                    value: 0,
                    mask: 1 << flag::LOOKUP_FDB,
                });
                out.push(OfAction::Resubmit(tables::LOOKUP_FDB));
                restore_args(&saved, out);
                out.push(OfAction::Move {
                    src: Subfield::new(REG10, flag::LOOKUP_FDB, 1),
                    dst: self.sub(dst)?,
                });
            }
            Action::Select { dst, members } => {
                let s = self.sub(dst)?;
                let mut desc = String::from(
                    "type=select,selection_method=dp_hash,selection_method_param=4294967296",
                );
                for (i, (v, w)) in members.iter().enumerate() {
                    let acts = [
                        self.set_field(s, u128::from(*v), None),
                        OfAction::Resubmit(self.next_table()),
                    ];
                    desc.push_str(&format!(
                        ",bucket=bucket_id:{i},weight:{w},actions={}",
                        super::ofp::format_of_actions(&acts)
                    ));
                }
                out.push(OfAction::Group(self.ctx.group_id(&desc)));
            }
            Action::Log(l) => {
                let mut u = userdata(opcode::LOG);
                u.push(l.verdict.code());
                u.push(l.severity.code());
                if let Some(n) = &l.name {
                    u.extend_from_slice(n.as_bytes());
                }
                let meter_id = l.meter.as_deref().and_then(|m| self.ctx.meter_id(m));
                out.push(OfAction::Controller {
                    userdata: u,
                    pause: false,
                    meter_id,
                });
            }
            Action::SetQueue(q) => out.push(OfAction::SetQueue(u32::from(*q))),
            Action::SetMeter { rate, burst } => {
                let name = match burst {
                    Some(b) => format!(
                        "__string: kbps burst stats bands=type=drop rate={rate} burst_size={b}"
                    ),
                    None => format!("__string: kbps stats bands=type=drop rate={rate}"),
                };
                if let Some(id) = self.ctx.meter_id(&name) {
                    out.push(OfAction::Meter(id));
                }
            }
            Action::TriggerEvent(e) => {
                let mut u = userdata(opcode::EVENT);
                u.extend_from_slice(&0u32.to_be_bytes());
                for (k, v) in &e.options {
                    let code: u16 = match k.as_str() {
                        "vip" => 1,
                        "protocol" => 2,
                        "load_balancer" => 3,
                        _ => continue,
                    };
                    u.extend_from_slice(&code.to_be_bytes());
                    u.extend_from_slice(&(v.len().min(0xffff) as u16).to_be_bytes());
                    u.extend_from_slice(&v.as_bytes()[..v.len().min(0xffff)]);
                }
                out.push(OfAction::Controller {
                    userdata: u,
                    pause: false,
                    meter_id: None,
                });
            }
            Action::BindVport { vport, port: _ } => {
                if let Some(key) = self.ctx.port_key(vport) {
                    let mut u = userdata(opcode::BIND_VPORT);
                    u.extend_from_slice(&key.to_be_bytes());
                    out.push(OfAction::Controller {
                        userdata: u,
                        pause: false,
                        meter_id: None,
                    });
                }
            }
            Action::HandleSvcCheck(p) => {
                let saved = setup_args(&[(whole(INPORT), self.sub(p)?)], out);
                out.push(controller(opcode::HANDLE_SVC_CHECK));
                restore_args(&saved, out);
            }
            Action::HandleDhcpv6Reply => out.push(controller(opcode::DHCP6_SERVER)),
            Action::HandleBfdMsg => out.push(controller(opcode::HANDLE_BFD_MSG)),
            Action::Igmp => out.push(controller(opcode::IGMP)),
            Action::CommitLbAff(c) => out.push(OfAction::Learn(self.commit_lb_aff(c))),
            Action::CommitEcmpNh { ipv6, proto } => {
                for l in commit_ecmp_nh(*ipv6, *proto) {
                    out.push(OfAction::Learn(l));
                }
            }
            Action::FwdGroup {
                liveness,
                childports,
            } => {
                let mut desc = String::from("type=select,selection_method=dp_hash");
                let mut n = 0;
                for p in childports {
                    let Some(key) = self.ctx.port_key(p) else {
                        continue;
                    };
                    let watch = if *liveness {
                        match self.ctx.local_ofport(p) {
                            Some(ofport) => format!(",watch_port:{ofport}"),
                            None => continue,
                        }
                    } else {
                        String::new()
                    };
                    let acts = [
                        OfAction::SetField {
                            field: OUTPORT,
                            value: u128::from(key & 0xffff),
                            mask: 0xffff,
                        },
                        OfAction::Resubmit(self.output_table()),
                    ];
                    desc.push_str(&format!(
                        ",bucket=bucket_id:{n}{watch},actions={}",
                        super::ofp::format_of_actions(&acts)
                    ));
                    n += 1;
                }
                if n > 0 {
                    out.push(OfAction::Group(self.ctx.group_id(&desc)));
                }
            }
            Action::Sample(s) => {
                if let Some(collector_set_id) = self.ctx.sample_collector(s.collector_set) {
                    out.push(OfAction::Sample {
                        probability: s.probability,
                        collector_set_id,
                        obs_domain_id: (u32::from(s.obs_domain) << 24)
                            | (self.ctx.datapath_key() & 0x00ff_ffff),
                        obs_point_id: match s.obs_point {
                            ObsPoint::Id(v) => v,
                            ObsPoint::Cookie => self.ctx.flow_cookie(),
                        },
                    });
                }
            }
        }
        Ok(())
    }

    fn mac_binding_ip(&self, family: Family) -> Subfield {
        match family {
            Family::V4 => whole(REG0),
            Family::V6 => whole(OfField::Xxreg(0)),
        }
    }

    fn ct_lb(&mut self, lb: &CtLb, out: &mut Vec<OfAction>) {
        let zone = self.ct_zone();
        let next = self.next_table();
        if lb.backends.is_empty() {
            out.push(OfAction::Ct {
                commit: false,
                table: Some(next),
                zone,
                nat: Some(Nat {
                    kind: None,
                    ip: None,
                    ports: None,
                    random: false,
                }),
                exec: Vec::new(),
            });
            return;
        }
        let field = if lb.mark {
            OfField::CtMark
        } else {
            OfField::CtLabel
        };
        let mut exec = vec![OfAction::SetField {
            field,
            value: 2,
            mask: 2,
        }];
        match lb.flag {
            Some(CtLbFlag::SkipSnat) => exec.push(OfAction::SetField {
                field,
                value: 4,
                mask: 4,
            }),
            Some(CtLbFlag::ForceSnat) => exec.push(OfAction::SetField {
                field,
                value: 8,
                mask: 8,
            }),
            None => {}
        }
        let mut desc = String::from("type=select,selection_method=");
        match &lb.hash_fields {
            Some(h) => desc.push_str(&format!("hash,fields({})", ovs_field_order(h))),
            None => desc.push_str("dp_hash"),
        }
        for (i, b) in lb.backends.iter().enumerate() {
            let ct = OfAction::Ct {
                commit: true,
                table: Some(next),
                zone,
                nat: Some(Nat {
                    kind: Some("dst"),
                    ip: Some(b.ip),
                    ports: b.port.map(|p| (p, p)),
                    random: false,
                }),
                exec: exec.clone(),
            };
            desc.push_str(&format!(",bucket=bucket_id:{i},weight:100,actions={ct}"));
        }
        out.push(OfAction::Group(self.ctx.group_id(&desc)));
    }

    fn commit_lb_aff(&self, c: &CommitLbAff) -> String {
        let mut s = format!(
            "table={},idle_timeout={},delete_learned,OXM_OF_METADATA[],",
            tables::CHK_LB_AFFINITY,
            c.timeout
        );
        let v6 = c.vip.is_ipv6();
        let (ety, src, dst_name) = if v6 {
            ("0x86dd", "NXM_NX_IPV6_SRC[]", "ipv6_dst")
        } else {
            ("0x800", "NXM_OF_IP_SRC[]", "ip_dst")
        };
        s.push_str(&format!("eth_type={ety},{src},{dst_name}={}", c.vip));
        if let Some(p) = c.proto {
            s.push_str(&format!(",nw_proto={p}"));
            if let Some(port) = c.vip_port {
                let n = match p {
                    17 => "udp_dst",
                    132 => "sctp_dst",
                    _ => "tcp_dst",
                };
                s.push_str(&format!(",{n}={port}"));
            }
        }
        s.push_str(&format!(
            ",load:0x1->NXM_NX_REG10[{}]",
            flag::USE_LB_AFF_SESSION
        ));
        let backend = addr_bits(c.backend);
        if v6 {
            let reg = if self.pos.is_switch {
                "NXM_NX_XXREG0[]"
            } else {
                "NXM_NX_XXREG1[]"
            };
            s.push_str(&format!(",load:{}->{reg}", format_hex(backend)));
        } else {
            s.push_str(&format!(",load:{}->NXM_NX_REG4[]", format_hex(backend)));
        }
        if let (Some(_), Some(port)) = (c.proto, c.backend_port) {
            s.push_str(&format!(
                ",load:{}->NXM_NX_REG8[0..15]",
                format_hex(u128::from(port))
            ));
        }
        s
    }
}

/// Orders `hash_fields` names as OVS prints them (by its field numbering).
fn ovs_field_order(list: &str) -> String {
    const ORDER: [&str; 14] = [
        "eth_src", "eth_dst", "ip_src", "ip_dst", "ipv6_src", "ipv6_dst", "ip_proto", "tp_src",
        "tp_dst", "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src",
    ];
    let mut v: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    v.sort_by_key(|f| ORDER.iter().position(|o| o == f).unwrap_or(ORDER.len()));
    v.join(",")
}

fn commit_ecmp_nh(ipv6: bool, proto: u8) -> Vec<String> {
    let (ety, src, dst) = if ipv6 {
        ("0x86dd", "NXM_NX_IPV6_SRC", "NXM_NX_IPV6_DST")
    } else {
        ("0x800", "NXM_OF_IP_SRC", "NXM_OF_IP_DST")
    };
    let (psrc, pdst) = match proto {
        17 => ("NXM_OF_UDP_SRC", "NXM_OF_UDP_DST"),
        132 => ("OXM_OF_SCTP_SRC", "OXM_OF_SCTP_DST"),
        _ => ("NXM_OF_TCP_SRC", "NXM_OF_TCP_DST"),
    };
    let bit = flag::LOOKUP_COMMIT_ECMP_NH;
    vec![
        format!(
            "table={},idle_timeout=20,hard_timeout=30,delete_learned,OXM_OF_METADATA[],\
             NXM_OF_ETH_SRC[],eth_type={ety},{src}[],{dst}[],nw_proto={proto},{psrc}[],{pdst}[],\
             load:0x1->NXM_NX_REG10[{bit}]",
            tables::ECMP_NH_MAC
        ),
        format!(
            "table={},idle_timeout=20,hard_timeout=30,delete_learned,OXM_OF_METADATA[],\
             eth_type={ety},{src}[]={dst}[],{dst}[]={src}[],nw_proto={proto},\
             {psrc}[]={pdst}[],{pdst}[]={psrc}[],load:0x1->NXM_NX_REG10[{bit}]",
            tables::ECMP_NH
        ),
    ]
}
