//! Which unsolicited extension messages a connection asked for, with `?ext=undo,diagnostics`.
//!
//! Stock y-websocket clients print an error for every message type they do not know, so a
//! gateway sends undo states and diagnostics only to connections that opted in; replies to a
//! request and the error before a close go to anyone.

/// A feature whose messages a connection may opt into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Undo,
    Diagnostics,
}

impl Feature {
    const ALL: [Feature; 2] = [Feature::Undo, Feature::Diagnostics];

    /// The feature's name in `?ext=`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Undo => "undo",
            Feature::Diagnostics => "diagnostics",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The set of features a connection opted into (none by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptIns(u8);

impl OptIns {
    /// Parses the comma list of `?ext=`; unknown names are ignored, so a newer client can
    /// ask an older gateway for features it lacks.
    pub fn parse(list: &str) -> OptIns {
        let mut set = OptIns::default();
        for name in list.split(',').map(str::trim) {
            if let Some(feature) = Feature::ALL.into_iter().find(|f| f.name() == name) {
                set.0 |= feature.bit();
            }
        }
        set
    }

    pub fn wants(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_and_ignores_the_rest() {
        let set = OptIns::parse("diagnostics, from-the-future,,undo");
        assert!(set.wants(Feature::Undo) && set.wants(Feature::Diagnostics));
        let only = OptIns::parse("undo");
        assert!(only.wants(Feature::Undo) && !only.wants(Feature::Diagnostics));
        assert_eq!(OptIns::parse(""), OptIns::default());
        assert!(
            !OptIns::parse("UNDO").wants(Feature::Undo),
            "names are exact"
        );
    }
}
