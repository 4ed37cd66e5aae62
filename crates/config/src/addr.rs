//! IPv4 addresses and CIDR prefixes as written in `[network]`.
//!
//! These are plain value types with their own parser so that this crate does not depend on
//! smoltcp; the `net` crate converts them with `octets`.

use core::fmt;
use core::str::FromStr;

use alloc::string::{String, ToString};

/// An IPv4 address such as `10.0.2.2`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4 {
    /// The four octets, most significant first (`10.0.2.2` is `[10, 0, 2, 2]`).
    pub octets: [u8; 4],
}

impl Ipv4 {
    /// `0.0.0.0`, which means "no address".
    pub const UNSPECIFIED: Ipv4 = Ipv4::new(0, 0, 0, 0);

    /// Builds an address from its four octets.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Self {
        Ipv4 { octets: [a, b, c, d] }
    }

    /// The address as a big-endian number, convenient for masking.
    pub const fn to_bits(self) -> u32 {
        u32::from_be_bytes(self.octets)
    }

    /// The address with the given big-endian number.
    pub const fn from_bits(bits: u32) -> Self {
        Ipv4 { octets: bits.to_be_bytes() }
    }

    /// `0.0.0.0`.
    pub const fn is_unspecified(self) -> bool {
        self.to_bits() == 0
    }

    /// `127.0.0.0/8`.
    pub const fn is_loopback(self) -> bool {
        self.octets[0] == 127
    }

    /// The RFC 1918 ranges `10.0.0.0/8`, `172.16.0.0/12` and `192.168.0.0/16`.
    pub const fn is_private(self) -> bool {
        let [a, b, ..] = self.octets;
        a == 10 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168)
    }

    /// `169.254.0.0/16`, self-assigned addresses.
    pub const fn is_link_local(self) -> bool {
        self.octets[0] == 169 && self.octets[1] == 254
    }

    /// `100.64.0.0/10`, carrier-grade NAT and overlay networks such as Tailscale.
    pub const fn is_shared(self) -> bool {
        self.octets[0] == 100 && (self.octets[1] & 0xc0) == 64
    }

    /// `224.0.0.0` and above: multicast, reserved and broadcast, never a host.
    pub const fn is_multicast_or_reserved(self) -> bool {
        self.octets[0] >= 224
    }

    /// Whether traffic to this address stays off the public internet.
    ///
    /// Used to decide whether plain `http://` deserves a warning: a server on the LAN, on the
    /// machine running QEMU or behind an overlay network is the normal home of a local model.
    pub const fn is_local(self) -> bool {
        self.is_loopback() || self.is_private() || self.is_link_local() || self.is_shared()
    }
}

impl From<[u8; 4]> for Ipv4 {
    fn from(octets: [u8; 4]) -> Self {
        Ipv4 { octets }
    }
}

impl From<Ipv4> for [u8; 4] {
    fn from(address: Ipv4) -> Self {
        address.octets
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.octets;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl fmt::Debug for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Ipv4 {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        let count = text.split('.').count();
        if count != 4 {
            return Err(AddressError::PartCount { count });
        }
        let mut octets = [0u8; 4];
        for (octet, part) in octets.iter_mut().zip(text.split('.')) {
            *octet = parse_octet(part)?;
        }
        Ok(Ipv4 { octets })
    }
}

fn parse_octet(part: &str) -> Result<u8, AddressError> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::NotANumber { part: part.to_string() });
    }
    // Some resolvers read `010` as octal 8; refusing it avoids a silent surprise.
    if part.len() > 1 && part.starts_with('0') {
        return Err(AddressError::LeadingZero { part: part.to_string() });
    }
    // Only digits remain, so the one way to fail is a value too large (even for u8).
    part.parse::<u8>().map_err(|_| AddressError::OutOfRange { part: part.to_string() })
}

/// An address together with the length of its network prefix, such as `10.0.2.15/24`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// This machine's address.
    pub address: Ipv4,
    /// How many leading bits name the network (24 for a `255.255.255.0` netmask); at most 32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The largest prefix length, a single host.
    pub const MAX_PREFIX_LEN: u8 = 32;

    /// Combines an address and a prefix length, or `None` when the length is above 32.
    pub const fn new(address: Ipv4, prefix_len: u8) -> Option<Self> {
        if prefix_len > Self::MAX_PREFIX_LEN { None } else { Some(Ipv4Cidr { address, prefix_len }) }
    }

    /// The netmask, e.g. `255.255.255.0` for `/24`.
    pub const fn netmask(&self) -> Ipv4 {
        // The fields are public, so a length above 32 is clamped rather than trusted.
        let len = if self.prefix_len > 32 { 32 } else { self.prefix_len };
        let bits = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
        Ipv4::from_bits(bits)
    }

    /// The network's own address (host bits cleared), e.g. `10.0.2.0` for `10.0.2.15/24`.
    pub const fn network(&self) -> Ipv4 {
        Ipv4::from_bits(self.address.to_bits() & self.netmask().to_bits())
    }

    /// The network's broadcast address (host bits set), e.g. `10.0.2.255` for `10.0.2.15/24`.
    pub const fn broadcast(&self) -> Ipv4 {
        Ipv4::from_bits(self.address.to_bits() | !self.netmask().to_bits())
    }

    /// Whether `other` is on this network, i.e. reachable without a gateway.
    pub const fn contains(&self, other: Ipv4) -> bool {
        let mask = self.netmask().to_bits();
        self.address.to_bits() & mask == other.to_bits() & mask
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((address, prefix)) = text.split_once('/') else {
            // Check the address first so that a typo in it is reported as such.
            text.parse::<Ipv4>()?;
            return Err(AddressError::MissingPrefix);
        };
        let address = address.parse::<Ipv4>()?;
        let bad_prefix = || AddressError::BadPrefix { prefix: prefix.to_string() };
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_prefix());
        }
        let prefix_len = prefix.parse::<u8>().map_err(|_| bad_prefix())?;
        Ipv4Cidr::new(address, prefix_len).ok_or_else(bad_prefix)
    }
}

/// Why a text is not an IPv4 address or CIDR; `Display` finishes the sentence "… is not an address: ".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// The text is empty.
    Empty,
    /// The text does not have four dot-separated parts.
    PartCount {
        /// How many parts it has.
        count: usize,
    },
    /// A part is not a decimal number.
    NotANumber {
        /// The offending part.
        part: String,
    },
    /// A part is above 255.
    OutOfRange {
        /// The offending part.
        part: String,
    },
    /// A part has a leading zero, which is ambiguous (octal in some software).
    LeadingZero {
        /// The offending part.
        part: String,
    },
    /// A CIDR was expected but there is no `/prefix`.
    MissingPrefix,
    /// The prefix length is not a number from 0 to 32.
    BadPrefix {
        /// The text after the slash.
        prefix: String,
    },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => f.write_str("it is empty"),
            AddressError::PartCount { count } => {
                write!(f, "an IPv4 address is four numbers separated by dots, this has {count} parts")
            }
            AddressError::NotANumber { part } => write!(f, "`{part}` is not a number from 0 to 255"),
            AddressError::OutOfRange { part } => write!(f, "{part} is larger than 255"),
            AddressError::LeadingZero { part } => {
                write!(f, "`{part}` has a leading zero, which some software reads as octal; leave it out")
            }
            AddressError::MissingPrefix => {
                f.write_str("the prefix length is missing: add it after a slash, like /24 for a 255.255.255.0 netmask")
            }
            AddressError::BadPrefix { prefix } => {
                write!(f, "the prefix length `{prefix}` must be a number from 0 to 32")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parses_and_prints_addresses() {
        let ip: Ipv4 = "10.0.2.2".parse().unwrap();
        assert_eq!(ip.octets, [10, 0, 2, 2]);
        assert_eq!(ip.to_string(), "10.0.2.2");
        assert_eq!("255.255.255.255".parse::<Ipv4>().unwrap().octets, [255; 4]);
        assert_eq!("0.0.0.0".parse::<Ipv4>().unwrap(), Ipv4::UNSPECIFIED);
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert_eq!("".parse::<Ipv4>(), Err(AddressError::Empty));
        assert_eq!("1.2.3".parse::<Ipv4>(), Err(AddressError::PartCount { count: 3 }));
        assert_eq!("1.2.3.4.5".parse::<Ipv4>(), Err(AddressError::PartCount { count: 5 }));
        assert_eq!("1.2.3.256".parse::<Ipv4>(), Err(AddressError::OutOfRange { part: "256".into() }));
        assert_eq!("1.2.3.9999".parse::<Ipv4>(), Err(AddressError::OutOfRange { part: "9999".into() }));
        assert_eq!("1.2..4".parse::<Ipv4>(), Err(AddressError::NotANumber { part: "".into() }));
        assert_eq!("1.2.x.4".parse::<Ipv4>(), Err(AddressError::NotANumber { part: "x".into() }));
        assert_eq!("1.2.3.+4".parse::<Ipv4>(), Err(AddressError::NotANumber { part: "+4".into() }));
        assert_eq!(" 1.2.3.4".parse::<Ipv4>(), Err(AddressError::NotANumber { part: " 1".into() }));
        assert_eq!("1.2.03.4".parse::<Ipv4>(), Err(AddressError::LeadingZero { part: "03".into() }));
    }

    #[test]
    fn parses_cidr_and_derives_the_network() {
        let cidr: Ipv4Cidr = "10.0.2.15/24".parse().unwrap();
        assert_eq!(cidr.address, Ipv4::new(10, 0, 2, 15));
        assert_eq!(cidr.prefix_len, 24);
        assert_eq!(cidr.netmask(), Ipv4::new(255, 255, 255, 0));
        assert_eq!(cidr.network(), Ipv4::new(10, 0, 2, 0));
        assert_eq!(cidr.broadcast(), Ipv4::new(10, 0, 2, 255));
        assert!(cidr.contains(Ipv4::new(10, 0, 2, 2)));
        assert!(!cidr.contains(Ipv4::new(10, 0, 3, 2)));
        assert_eq!(cidr.to_string(), "10.0.2.15/24");

        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.netmask(), Ipv4::UNSPECIFIED);
        assert!(all.contains(Ipv4::new(8, 8, 8, 8)));
        let host: Ipv4Cidr = "192.168.1.7/32".parse().unwrap();
        assert_eq!(host.netmask(), Ipv4::new(255, 255, 255, 255));
    }

    #[test]
    fn rejects_malformed_cidr() {
        assert_eq!("10.0.2.15".parse::<Ipv4Cidr>(), Err(AddressError::MissingPrefix));
        assert_eq!("10.0.2.300".parse::<Ipv4Cidr>(), Err(AddressError::OutOfRange { part: "300".into() }));
        assert_eq!("10.0.2.15/33".parse::<Ipv4Cidr>(), Err(AddressError::BadPrefix { prefix: "33".into() }));
        assert_eq!("10.0.2.15/".parse::<Ipv4Cidr>(), Err(AddressError::BadPrefix { prefix: "".into() }));
        assert_eq!(
            "10.0.2.15/255.255.255.0".parse::<Ipv4Cidr>(),
            Err(AddressError::BadPrefix { prefix: "255.255.255.0".into() })
        );
        assert_eq!("10.0.2.300/24".parse::<Ipv4Cidr>(), Err(AddressError::OutOfRange { part: "300".into() }));
    }

    #[test]
    fn out_of_range_prefix_in_public_fields_is_clamped() {
        let odd = Ipv4Cidr { address: Ipv4::new(10, 1, 2, 3), prefix_len: 40 };
        assert_eq!(odd.netmask(), Ipv4::new(255, 255, 255, 255));
        assert_eq!(Ipv4Cidr::new(Ipv4::UNSPECIFIED, 33), None);
    }

    #[test]
    fn classifies_local_ranges() {
        for local in
            ["10.1.2.3", "172.16.0.1", "172.31.255.1", "192.168.1.10", "127.0.0.1", "169.254.3.4", "100.64.1.1"]
        {
            assert!(local.parse::<Ipv4>().unwrap().is_local(), "{local}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "172.15.0.1", "100.128.0.1", "192.169.0.1", "1.1.1.1"] {
            assert!(!public.parse::<Ipv4>().unwrap().is_local(), "{public}");
        }
        assert!(Ipv4::new(239, 1, 1, 1).is_multicast_or_reserved());
    }
}
