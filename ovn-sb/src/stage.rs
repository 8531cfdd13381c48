//! The logical pipeline stages of OVN 23.03: one table, the single source of truth for stage names,
//! their pipelines and their logical table numbers.
//!
//! Logical switches have 27 ingress and 10 egress stages; logical routers 22 ingress and 7 egress.
//! A stage's logical table number is its position in its pipeline. ovn-controller 23.03 places
//! logical ingress table `N` at OpenFlow table `8 + N` and logical egress table `N` at `42 + N`
//! (tables 37 to 41 sit between them: remote output, local output, loopback check, and the
//! per-port egress zone loads; measured on the real stack, and not 40 as some notes say).

use std::fmt;

/// Which kind of logical datapath a stage belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatapathKind {
    /// A logical switch (`ls_*` stages).
    Switch,
    /// A logical router (`lr_*` stages).
    Router,
}

/// A logical pipeline, as in the `pipeline` column of SB `Logical_Flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pipeline {
    /// The ingress pipeline (`"ingress"`).
    Ingress,
    /// The egress pipeline (`"egress"`).
    Egress,
}

impl Pipeline {
    /// The text SB uses for this pipeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }

    /// Parses SB's text for a pipeline.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ingress" => Some(Self::Ingress),
            "egress" => Some(Self::Egress),
            _ => None,
        }
    }

    /// The first OpenFlow table ovn-controller uses for this pipeline.
    pub fn first_openflow_table(self) -> u8 {
        match self {
            Self::Ingress => OFTABLE_LOG_INGRESS_PIPELINE,
            Self::Egress => OFTABLE_LOG_EGRESS_PIPELINE,
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenFlow table of logical ingress stage 0.
pub const OFTABLE_LOG_INGRESS_PIPELINE: u8 = 8;
/// OpenFlow table of logical egress stage 0.
pub const OFTABLE_LOG_EGRESS_PIPELINE: u8 = 42;

macro_rules! stages {
    ($( $kind:ident $pipe:ident $table:literal $variant:ident $name:literal; )*) => {
        /// One logical pipeline stage of OVN 23.03.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Stage {
            $(
                #[doc = concat!("`", $name, "`: logical table ", stringify!($table), ".")]
                $variant,
            )*
        }

        impl Stage {
            /// Every stage, switch stages first, each pipeline in table order.
            pub const ALL: &'static [Stage] = &[$(Stage::$variant,)*];

            /// The datapath kind this stage belongs to.
            pub fn datapath_kind(self) -> DatapathKind {
                match self { $(Stage::$variant => DatapathKind::$kind,)* }
            }

            /// The pipeline this stage belongs to.
            pub fn pipeline(self) -> Pipeline {
                match self { $(Stage::$variant => Pipeline::$pipe,)* }
            }

            /// The logical table number (`table_id` in SB `Logical_Flow`).
            pub fn table(self) -> u8 {
                match self { $(Stage::$variant => $table,)* }
            }

            /// The stage name, as in `external_ids:stage-name` of SB `Logical_Flow`.
            pub fn name(self) -> &'static str {
                match self { $(Stage::$variant => $name,)* }
            }
        }
    };
}

stages! {
    Switch Ingress 0 LsInCheckPortSec "ls_in_check_port_sec";
    Switch Ingress 1 LsInApplyPortSec "ls_in_apply_port_sec";
    Switch Ingress 2 LsInLookupFdb "ls_in_lookup_fdb";
    Switch Ingress 3 LsInPutFdb "ls_in_put_fdb";
    Switch Ingress 4 LsInPreAcl "ls_in_pre_acl";
    Switch Ingress 5 LsInPreLb "ls_in_pre_lb";
    Switch Ingress 6 LsInPreStateful "ls_in_pre_stateful";
    Switch Ingress 7 LsInAclHint "ls_in_acl_hint";
    Switch Ingress 8 LsInAcl "ls_in_acl";
    Switch Ingress 9 LsInQosMark "ls_in_qos_mark";
    Switch Ingress 10 LsInQosMeter "ls_in_qos_meter";
    Switch Ingress 11 LsInLbAffCheck "ls_in_lb_aff_check";
    Switch Ingress 12 LsInLb "ls_in_lb";
    Switch Ingress 13 LsInLbAffLearn "ls_in_lb_aff_learn";
    Switch Ingress 14 LsInPreHairpin "ls_in_pre_hairpin";
    Switch Ingress 15 LsInNatHairpin "ls_in_nat_hairpin";
    Switch Ingress 16 LsInHairpin "ls_in_hairpin";
    Switch Ingress 17 LsInAclAfterLb "ls_in_acl_after_lb";
    Switch Ingress 18 LsInStateful "ls_in_stateful";
    Switch Ingress 19 LsInArpRsp "ls_in_arp_rsp";
    Switch Ingress 20 LsInDhcpOptions "ls_in_dhcp_options";
    Switch Ingress 21 LsInDhcpResponse "ls_in_dhcp_response";
    Switch Ingress 22 LsInDnsLookup "ls_in_dns_lookup";
    Switch Ingress 23 LsInDnsResponse "ls_in_dns_response";
    Switch Ingress 24 LsInExternalPort "ls_in_external_port";
    Switch Ingress 25 LsInL2Lkup "ls_in_l2_lkup";
    Switch Ingress 26 LsInL2Unknown "ls_in_l2_unknown";
    Switch Egress 0 LsOutPreAcl "ls_out_pre_acl";
    Switch Egress 1 LsOutPreLb "ls_out_pre_lb";
    Switch Egress 2 LsOutPreStateful "ls_out_pre_stateful";
    Switch Egress 3 LsOutAclHint "ls_out_acl_hint";
    Switch Egress 4 LsOutAcl "ls_out_acl";
    Switch Egress 5 LsOutQosMark "ls_out_qos_mark";
    Switch Egress 6 LsOutQosMeter "ls_out_qos_meter";
    Switch Egress 7 LsOutStateful "ls_out_stateful";
    Switch Egress 8 LsOutCheckPortSec "ls_out_check_port_sec";
    Switch Egress 9 LsOutApplyPortSec "ls_out_apply_port_sec";
    Router Ingress 0 LrInAdmission "lr_in_admission";
    Router Ingress 1 LrInLookupNeighbor "lr_in_lookup_neighbor";
    Router Ingress 2 LrInLearnNeighbor "lr_in_learn_neighbor";
    Router Ingress 3 LrInIpInput "lr_in_ip_input";
    Router Ingress 4 LrInUnsnat "lr_in_unsnat";
    Router Ingress 5 LrInDefrag "lr_in_defrag";
    Router Ingress 6 LrInLbAffCheck "lr_in_lb_aff_check";
    Router Ingress 7 LrInDnat "lr_in_dnat";
    Router Ingress 8 LrInLbAffLearn "lr_in_lb_aff_learn";
    Router Ingress 9 LrInEcmpStateful "lr_in_ecmp_stateful";
    Router Ingress 10 LrInNdRaOptions "lr_in_nd_ra_options";
    Router Ingress 11 LrInNdRaResponse "lr_in_nd_ra_response";
    Router Ingress 12 LrInIpRoutingPre "lr_in_ip_routing_pre";
    Router Ingress 13 LrInIpRouting "lr_in_ip_routing";
    Router Ingress 14 LrInIpRoutingEcmp "lr_in_ip_routing_ecmp";
    Router Ingress 15 LrInPolicy "lr_in_policy";
    Router Ingress 16 LrInPolicyEcmp "lr_in_policy_ecmp";
    Router Ingress 17 LrInArpResolve "lr_in_arp_resolve";
    Router Ingress 18 LrInChkPktLen "lr_in_chk_pkt_len";
    Router Ingress 19 LrInLargerPkts "lr_in_larger_pkts";
    Router Ingress 20 LrInGwRedirect "lr_in_gw_redirect";
    Router Ingress 21 LrInArpRequest "lr_in_arp_request";
    Router Egress 0 LrOutChkDnatLocal "lr_out_chk_dnat_local";
    Router Egress 1 LrOutUndnat "lr_out_undnat";
    Router Egress 2 LrOutPostUndnat "lr_out_post_undnat";
    Router Egress 3 LrOutSnat "lr_out_snat";
    Router Egress 4 LrOutPostSnat "lr_out_post_snat";
    Router Egress 5 LrOutEgrLoop "lr_out_egr_loop";
    Router Egress 6 LrOutDelivery "lr_out_delivery";
}

impl Stage {
    /// Looks a stage up by its name (`ls_in_acl`, `lr_out_snat`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Looks a stage up by datapath kind, pipeline and logical table number.
    pub fn from_table(kind: DatapathKind, pipeline: Pipeline, table: u8) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.datapath_kind() == kind && s.pipeline() == pipeline && s.table() == table)
    }

    /// The stages of one pipeline of one datapath kind, in table order.
    pub fn of(kind: DatapathKind, pipeline: Pipeline) -> impl Iterator<Item = Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |s| s.datapath_kind() == kind && s.pipeline() == pipeline)
    }

    /// The OpenFlow table ovn-controller 23.03 uses for this stage.
    pub fn openflow_table(self) -> u8 {
        self.pipeline().first_openflow_table() + self.table()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_sizes_match_ovn_23_03() {
        let count = |k, p| Stage::of(k, p).count();
        assert_eq!(count(DatapathKind::Switch, Pipeline::Ingress), 27);
        assert_eq!(count(DatapathKind::Switch, Pipeline::Egress), 10);
        assert_eq!(count(DatapathKind::Router, Pipeline::Ingress), 22);
        assert_eq!(count(DatapathKind::Router, Pipeline::Egress), 7);
    }

    #[test]
    fn tables_are_dense_and_in_order() {
        for kind in [DatapathKind::Switch, DatapathKind::Router] {
            for pipe in [Pipeline::Ingress, Pipeline::Egress] {
                for (i, s) in Stage::of(kind, pipe).enumerate() {
                    assert_eq!(usize::from(s.table()), i, "{s}");
                    assert_eq!(Stage::from_table(kind, pipe, s.table()), Some(s));
                }
            }
        }
    }

    #[test]
    fn names_follow_kind_and_pipeline_and_round_trip() {
        for &s in Stage::ALL {
            let prefix = match (s.datapath_kind(), s.pipeline()) {
                (DatapathKind::Switch, Pipeline::Ingress) => "ls_in_",
                (DatapathKind::Switch, Pipeline::Egress) => "ls_out_",
                (DatapathKind::Router, Pipeline::Ingress) => "lr_in_",
                (DatapathKind::Router, Pipeline::Egress) => "lr_out_",
            };
            assert!(s.name().starts_with(prefix), "{s}");
            assert_eq!(Stage::from_name(s.name()), Some(s));
        }
        assert_eq!(Stage::from_name("ls_in_nope"), None);
    }

    #[test]
    fn openflow_tables() {
        assert_eq!(Stage::LsInCheckPortSec.openflow_table(), 8);
        assert_eq!(Stage::LsInL2Unknown.openflow_table(), 34);
        assert_eq!(Stage::LsOutApplyPortSec.openflow_table(), 51);
        assert_eq!(Stage::LrInArpRequest.openflow_table(), 29);
        assert_eq!(Stage::LrOutDelivery.openflow_table(), 48);
    }
}
