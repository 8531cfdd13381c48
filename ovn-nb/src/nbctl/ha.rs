//! DHCP options and HA chassis groups: `dhcp-options-*`, `ha-chassis-group-*`.

use ovsdb::model::Uuid;
use ovsdb::Atom;

use super::error::{NbctlError, Result};
use super::lookup::{parse_cidr, parse_priority, parse_uuid, Kind};
use super::switch::parse_kv;
use super::txn::{int_datum, map_datum, str_datum, Nbctl};

impl Nbctl {
    /// `dhcp-options-create CIDR [KEY=VALUE]...` (the pairs go to `external_ids`); returns the
    /// new row's (temporary) UUID.
    pub fn dhcp_options_create(&mut self, cidr: &str, external_ids: &[&str]) -> Result<Uuid> {
        let t = self.table_index("DHCP_Options")?;
        if parse_cidr(cidr, false).is_none() {
            return Err(NbctlError::invalid(format!("Invalid cidr format '{cidr}'")));
        }
        let mut cols = vec![("cidr", str_datum(cidr))];
        let ids = parse_kv(external_ids);
        if !ids.is_empty() {
            cols.push(("external_ids", map_datum(&ids)));
        }
        Ok(self.insert(t, cols))
    }

    fn dhcp(&self, id: &str) -> Result<(usize, Uuid)> {
        let t = self.table_index("DHCP_Options")?;
        match parse_uuid(id) {
            Some(u) if self.exists(t, u) => Ok((t, u)),
            _ => Err(NbctlError::not_found(format!(
                "{id}: dhcp options UUID not found"
            ))),
        }
    }

    /// `dhcp-options-set-options UUID [KEY=VALUE]...` (replaces the options).
    pub fn dhcp_options_set_options(&mut self, id: &str, options: &[&str]) -> Result<()> {
        let (t, u) = self.dhcp(id)?;
        self.set(t, u, "options", map_datum(&parse_kv(options)));
        Ok(())
    }

    /// `dhcp-options-get-options UUID`: `KEY=VALUE` lines.
    pub fn dhcp_options_get_options(&mut self, id: &str) -> Result<String> {
        let (t, u) = self.dhcp(id)?;
        Ok(self
            .get_map(t, u, "options")
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect())
    }

    /// `dhcp-options-del UUID`.
    pub fn dhcp_options_del(&mut self, id: &str) -> Result<()> {
        let (t, u) = self.dhcp(id)?;
        self.delete(t, u);
        Ok(())
    }

    /// `dhcp-options-list`: UUIDs with their CIDRs.
    pub fn dhcp_options_list(&mut self) -> Result<String> {
        let t = self.table_index("DHCP_Options")?;
        Ok(self
            .uuids(t)
            .into_iter()
            .map(|u| format!("{u}\n"))
            .collect())
    }

    /// `ha-chassis-group-add NAME` (a duplicate name is refused by the database's index).
    pub fn ha_chassis_group_add(&mut self, name: &str) -> Result<Uuid> {
        let t = self.table_index("HA_Chassis_Group")?;
        Ok(self.insert(t, vec![("name", str_datum(name))]))
    }

    /// `ha-chassis-group-del NAME`.
    pub fn ha_chassis_group_del(&mut self, name: &str) -> Result<()> {
        let t = self.table_index("HA_Chassis_Group")?;
        let g = self.must(Kind::HaChassisGroup, name)?;
        self.delete(t, g);
        Ok(())
    }

    /// `ha-chassis-group-add-chassis GROUP CHASSIS PRIORITY` (updates the priority when the
    /// chassis is already in the group).
    pub fn ha_chassis_group_add_chassis(
        &mut self,
        group: &str,
        chassis: &str,
        priority: &str,
    ) -> Result<()> {
        let gt = self.table_index("HA_Chassis_Group")?;
        let ht = self.table_index("HA_Chassis")?;
        let g = self.must(Kind::HaChassisGroup, group)?;
        let prio = parse_priority(priority)?;
        for h in self.get_uuids(gt, g, "ha_chassis") {
            if self.get_str(ht, h, "chassis_name") == chassis {
                self.set(ht, h, "priority", int_datum(prio));
                return Ok(());
            }
        }
        let h = self.insert(
            ht,
            vec![
                ("chassis_name", str_datum(chassis)),
                ("priority", int_datum(prio)),
            ],
        );
        self.set_add(gt, g, "ha_chassis", Atom::Uuid(h));
        Ok(())
    }

    /// `ha-chassis-group-remove-chassis GROUP CHASSIS`.
    pub fn ha_chassis_group_remove_chassis(&mut self, group: &str, chassis: &str) -> Result<()> {
        let gt = self.table_index("HA_Chassis_Group")?;
        let ht = self.table_index("HA_Chassis")?;
        let g = self.must(Kind::HaChassisGroup, group)?;
        for h in self.get_uuids(gt, g, "ha_chassis") {
            if self.get_str(ht, h, "chassis_name") == chassis {
                self.set_remove(gt, g, "ha_chassis", &Atom::Uuid(h));
                self.delete(ht, h);
                return Ok(());
            }
        }
        Err(NbctlError::not_found(format!(
            "{chassis}: ha chassis not found in {group} ha chassis group"
        )))
    }
}
