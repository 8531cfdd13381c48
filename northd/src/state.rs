//! What northd reads back from Southbound: tunnel keys already handed out (kept stable across
//! recompiles) and the features the chassis publish.

use std::collections::BTreeMap;

use ovn_sb::model as sb;
use uuid::Uuid;

/// Features every chassis supports (a feature is on only when all chassis publish it, and on
/// when there is no chassis at all, as in ovn-northd 23.03).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisFeatures {
    /// `ct-no-masked-label`: `ct_mark.blocked` / `ct_label.label` split.
    pub ct_no_masked_label: bool,
    /// `ovn-ct-lb-related`.
    pub ct_lb_related: bool,
    /// `mac-binding-timestamp`.
    pub mac_binding_timestamp: bool,
}

impl Default for ChassisFeatures {
    fn default() -> Self {
        Self {
            ct_no_masked_label: true,
            ct_lb_related: true,
            mac_binding_timestamp: true,
        }
    }
}

/// What a flow becomes for chassis without `ct-no-masked-label` (ovn-controller before
/// 22.06): load balancing with `ct_lb` instead of `ct_lb_mark`, and the conntrack bits northd
/// keeps (`blocked`, `natted`, `force_snat`, `skip_snat`, `ecmp_reply_port`) in `ct_label`
/// instead of `ct_mark`. ovn-northd 23.03 switches to these spellings as soon as one chassis
/// lacks the feature, except in the flows of sessions learnt for load balancer affinity
/// (`reg9[6] == 1`), which keep `ct_lb_mark`.
pub fn legacy_ct_flow(k: &crate::flow::FlowKey) -> crate::flow::FlowKey {
    let text = |t: &str| {
        if !t.contains("ct_") {
            return t.to_owned();
        }
        let mut out = t.replace("ct_lb_mark", "ct_lb");
        for bit in [
            "blocked",
            "natted",
            "force_snat",
            "skip_snat",
            "ecmp_reply_port",
        ] {
            out = out.replace(&format!("ct_mark.{bit}"), &format!("ct_label.{bit}"));
        }
        out
    };
    if k.match_.contains("reg9[6] == 1") {
        return k.clone();
    }
    crate::flow::FlowKey {
        match_: text(&k.match_),
        actions: text(&k.actions),
        ..k.clone()
    }
}

impl ChassisFeatures {
    /// The features common to `chassis`, leaving out remote ones (`other_config:is-remote`,
    /// chassis of other availability zones, which install no flows of ours).
    pub fn from_chassis<'a>(chassis: impl IntoIterator<Item = &'a sb::Chassis>) -> Self {
        let mut f = Self::default();
        for c in chassis {
            if c.other_config
                .get("is-remote")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                continue;
            }
            let on = |k: &str| c.other_config.get(k).is_some_and(|v| v == "true");
            f.ct_no_masked_label &= on("ct-no-masked-label");
            f.ct_lb_related &= on("ovn-ct-lb-related");
            f.mac_binding_timestamp &= on("mac-binding-timestamp");
        }
        f
    }
}

/// The Southbound state a compile depends on.
#[derive(Debug, Clone, Default)]
pub struct SbState {
    /// Datapath tunnel keys in SB, by NB switch/router UUID.
    pub datapath_keys: BTreeMap<Uuid, u32>,
    /// Port tunnel keys in SB, by `logical_port`, with the NB UUID of the port's datapath.
    pub port_keys: BTreeMap<String, (Uuid, u32)>,
    /// Chassis features.
    pub features: ChassisFeatures,
    /// The status ovn-controller gave each `Service_Monitor` (by backend address, port,
    /// protocol and logical port); empty unless read from SB rows ([`crate::diff::SbRows::state`]).
    pub service_monitor_status:
        BTreeMap<crate::svc_monitor::MonitorKey, ovn_sb::model::ServiceMonitorStatus>,
    /// The `IGMP_Group` rows ovn-controller wrote and the keys of the dynamic multicast groups
    /// in SB; empty unless read from SB rows ([`crate::diff::SbRows::state`]).
    pub igmp: crate::igmp::IgmpState,
    /// Some chassis has a VXLAN encapsulation (`SB_Global` `options:max_tunid` is then the
    /// VXLAN limit, 4095); false unless read from SB rows ([`crate::diff::SbRows::state`]).
    pub vxlan_mode: bool,
}

impl SbState {
    /// Reads keys and features from SB rows.
    pub fn from_rows(
        datapaths: &[sb::DatapathBinding],
        ports: &[sb::PortBinding],
        chassis: &[sb::Chassis],
    ) -> Self {
        let mut dp_nb: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        let mut datapath_keys = BTreeMap::new();
        for dp in datapaths {
            let nb = ["logical-switch", "logical-router"]
                .iter()
                .find_map(|k| dp.external_ids.get(*k))
                .and_then(|s| Uuid::parse_str(s).ok());
            if let (Some(nb), Ok(key)) = (nb, u32::try_from(dp.tunnel_key)) {
                datapath_keys.insert(nb, key);
                dp_nb.insert(dp.uuid.uuid(), nb);
            }
        }
        let port_keys = ports
            .iter()
            .filter_map(|pb| {
                let nb = dp_nb.get(&pb.datapath.uuid())?;
                Some((
                    pb.logical_port.clone(),
                    (*nb, u32::try_from(pb.tunnel_key).ok()?),
                ))
            })
            .collect();
        Self {
            datapath_keys,
            port_keys,
            features: ChassisFeatures::from_chassis(chassis),
            service_monitor_status: BTreeMap::new(),
            igmp: crate::igmp::IgmpState::default(),
            vxlan_mode: false,
        }
    }
}
