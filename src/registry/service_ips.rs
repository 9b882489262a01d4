//! Cluster IPs for Services, from `--service-cluster-ip-range`.
//!
//! An address is free when no Service holds it; the shard's replica says which are held.
//! Shards never hand out the same address concurrently: shard `i` of `n` allocates only
//! offsets `o` with `o % n == i`, and a shard remembers the addresses it is handing out until
//! the Service is stored. (Two processes sharing one etcd would need a stored allocation map,
//! as upstream keeps; kubeshard does not run that way yet.)

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// An IPv4 CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    base: u32,
    size: u32,
}

impl IpRange {
    /// Parses `a.b.c.d/len` (IPv4, /8 to /30).
    pub fn parse(cidr: &str) -> Result<Self, String> {
        let (ip, len) = cidr
            .split_once('/')
            .ok_or_else(|| format!("{cidr:?} is not a CIDR (a.b.c.d/len)"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{cidr:?}: only IPv4 ranges are supported"))?;
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| (8..=30).contains(l))
            .ok_or_else(|| format!("{cidr:?}: the prefix length must be 8 to 30"))?;
        let mask = u32::MAX << (32 - len);
        Ok(Self {
            base: u32::from(ip) & mask,
            size: 1 << (32 - len),
        })
    }

    /// The address `offset` into the range.
    pub fn nth(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base + offset)
    }

    /// Whether `ip` is a usable address of the range (not the network or broadcast address).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        v > self.base && v < self.base + self.size - 1
    }

    /// The `kubernetes` Service's address: the first usable one.
    pub fn kubernetes(&self) -> Ipv4Addr {
        self.nth(1)
    }
}

/// One shard's allocator.
#[derive(Debug)]
pub struct ServiceIps {
    range: IpRange,
    shard: u32,
    shards: u32,
    pending: RefCell<HashSet<Ipv4Addr>>,
}

impl ServiceIps {
    /// The allocator of shard `shard` of `shards`.
    pub fn new(range: IpRange, shard: usize, shards: usize) -> Self {
        Self {
            range,
            shard: shard as u32,
            shards: shards.max(1) as u32,
            pending: RefCell::new(HashSet::new()),
        }
    }

    /// The range.
    pub fn range(&self) -> IpRange {
        self.range
    }

    /// A free address (not in `used`, not being handed out); None when the range is full.
    /// The caller releases it with [`ServiceIps::done`] once the Service is stored (or not).
    pub fn allocate(&self, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        let mut pending = self.pending.borrow_mut();
        // Offset 1 is the kubernetes Service's; the last address is the broadcast address.
        let first = 2 + (self.shard + self.shards - (2 % self.shards)) % self.shards;
        let ip = (first..self.range.size - 1)
            .step_by(self.shards as usize)
            .map(|o| self.range.nth(o))
            .find(|ip| !used.contains(ip) && !pending.contains(ip))?;
        pending.insert(ip);
        Some(ip)
    }

    /// The Service holding `ip` was stored, or its create failed.
    pub fn done(&self, ip: Ipv4Addr) {
        self.pending.borrow_mut().remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn shards_hand_out_disjoint_addresses() {
        let r = IpRange::parse("10.0.0.0/24").unwrap();
        assert_eq!(r.kubernetes(), Ipv4Addr::new(10, 0, 0, 1));
        let a = ServiceIps::new(r, 0, 2);
        let b = ServiceIps::new(r, 1, 2);
        let used = HashSet::new();
        let mut seen = HashSet::new();
        for _ in 0..10 {
            for s in [&a, &b] {
                let ip = s.allocate(&used).unwrap();
                assert!(r.contains(ip) && ip != r.kubernetes());
                assert!(seen.insert(ip), "{ip} handed out twice");
            }
        }
        let full = IpRange::parse("10.0.0.0/30").unwrap();
        let one = ServiceIps::new(full, 0, 1);
        assert_eq!(one.allocate(&used), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(one.allocate(&used), None, "range exhausted");
        assert!(IpRange::parse("fd00::/120").is_err());
        assert!(IpRange::parse("10.0.0.0").is_err());
    }
}
