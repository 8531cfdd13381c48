//! Pass 2, evaluate conditions (OVN's `expr_evaluate_condition`): replaces every
//! `is_chassis_resident("port")` by the Boolean the caller's [`ChassisResident`] gives for this
//! chassis, then restores the AND/OR invariants.  The output contains no conditions.

use crate::expr::{Condition, Expr};

/// Tells whether a logical port is resident on the chassis being compiled for.
pub trait ChassisResident {
    /// True if `port` is bound here (or, for a chassis-redirect port, active here).
    fn is_chassis_resident(&self, port: &str) -> bool;
}

impl<F: Fn(&str) -> bool> ChassisResident for F {
    fn is_chassis_resident(&self, port: &str) -> bool {
        self(port)
    }
}

/// Evaluates the conditions in `expr`.
pub fn evaluate(expr: Expr, resident: &dyn ChassisResident) -> Expr {
    match expr {
        Expr::Condition(Condition { port, negated }) => {
            Expr::Bool(resident.is_chassis_resident(&port) ^ negated)
        }
        Expr::And(v) => Expr::And(v.into_iter().map(|e| evaluate(e, resident)).collect()).fix(),
        Expr::Or(v) => Expr::Or(v.into_iter().map(|e| evaluate(e, resident)).collect()).fix(),
        e => e,
    }
}
