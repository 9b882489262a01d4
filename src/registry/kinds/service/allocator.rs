//! Cluster IPs for Services, from `--service-cluster-ip-range`.
//!
//! An address is free when no Service holds it; the shard's replica says which are held.
//! Shards never hand out the same address concurrently: shard `i` of `n` allocates only
//! offsets `o` with `o % n == i`, and a shard remembers the addresses it is handing out until
//! the Service is stored. Node ports (`--service-node-port-range`) are striped the same way,
//! but a shard whose stripe is full borrows from the others'. Across processes sharing one
//! etcd, a value is handed out only once its claim is stored (`claims.rs`).

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

/// A port range (`--service-node-port-range`, `30000-32767` or `30000+2767`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub base: u16,
    /// How many ports.
    pub size: u16,
}

impl PortRange {
    /// Parses `first-last` or `first+count`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a port range (first-last or first+count)");
        let (base, size) = if let Some((a, b)) = text.split_once('-') {
            let (a, b): (u16, u16) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            (
                a,
                b.checked_sub(a)
                    .and_then(|d| d.checked_add(1))
                    .ok_or_else(bad)?,
            )
        } else if let Some((a, n)) = text.split_once('+') {
            let (a, n): (u16, u16) = (
                a.trim().parse().map_err(|_| bad())?,
                n.trim().parse().map_err(|_| bad())?,
            );
            a.checked_add(n).ok_or_else(bad)?;
            (a, n.checked_add(1).ok_or_else(bad)?)
        } else {
            return Err(bad());
        };
        if base == 0 {
            return Err(bad());
        }
        Ok(Self { base, size })
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        port >= self.base && u32::from(port) < u32::from(self.base) + u32::from(self.size)
    }

    /// The range as upstream's messages print it (`30000-32767`).
    pub fn describe(&self) -> String {
        format!(
            "{}-{}",
            self.base,
            u32::from(self.base) + u32::from(self.size) - 1
        )
    }
}

/// A random number (from a v4 UUID's random bits).
fn random_u32() -> u32 {
    u32::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..4]
            .try_into()
            .unwrap_or([0; 4]),
    )
}

/// One shard's allocator of Service cluster IPs and node ports.
#[derive(Debug)]
pub struct ServiceIps {
    range: IpRange,
    shard: u32,
    shards: u32,
    pending: RefCell<HashSet<Ipv4Addr>>,
    node_ports: PortRange,
    pending_ports: RefCell<HashSet<u16>>,
}

impl ServiceIps {
    /// The allocator of shard `shard` of `shards`.
    pub fn new(range: IpRange, shard: usize, shards: usize) -> Self {
        Self {
            range,
            shard: shard as u32,
            shards: shards.max(1) as u32,
            pending: RefCell::new(HashSet::new()),
            node_ports: PortRange {
                base: 30000,
                size: 2768,
            },
            pending_ports: RefCell::new(HashSet::new()),
        }
    }

    /// Allocates node ports from `ports` (`--service-node-port-range`).
    pub fn with_node_ports(mut self, ports: PortRange) -> Self {
        self.node_ports = ports;
        self
    }

    /// The node port range.
    pub fn node_ports(&self) -> PortRange {
        self.node_ports
    }

    /// A free node port (not in `used`, not being handed out by this shard), from this
    /// shard's stripe of the range starting at a random place, as upstream's allocator picks
    /// at random, then from the rest of the range. None when the range is full. Release it with [`ServiceIps::port_done`].
    pub fn allocate_port(&self, used: &HashSet<u16>) -> Option<u16> {
        let mut pending = self.pending_ports.borrow_mut();
        let size = u32::from(self.node_ports.size);
        let slots = (size + self.shards - 1 - self.shard) / self.shards;
        let start = random_u32() % slots.max(1);
        let free = |p: &u16| !used.contains(p) && !pending.contains(p);
        let at = |o: u32| u16::try_from(u32::from(self.node_ports.base) + o).ok();
        // This shard's stripe first; when it is full, any free port of the range. Only then can
        // two shards racing hand out one port twice (neither sees the other's pending port).
        let port = (0..slots)
            .map(|i| self.shard + ((start + i) % slots) * self.shards)
            .filter_map(at)
            .find(free)
            .or_else(|| (0..size).filter_map(at).find(free))?;
        pending.insert(port);
        Some(port)
    }

    /// The Service holding node port `port` was stored, or its write failed.
    pub fn port_done(&self, port: u16) {
        self.pending_ports.borrow_mut().remove(&port);
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
        let stripe: Vec<u32> = (first..self.range.size - 1)
            .step_by(self.shards as usize)
            .collect();
        // From a random place in the stripe, as upstream's allocator picks at random: servers
        // sharing the storage then rarely want the same address at once.
        let start = random_u32() as usize % stripe.len().max(1);
        let ip = (0..stripe.len())
            .map(|i| self.range.nth(stripe[(start + i) % stripe.len()]))
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

        let ports = PortRange::parse("30000-30003").unwrap();
        assert_eq!(ports, PortRange::parse("30000+3").unwrap());
        assert_eq!(ports.describe(), "30000-30003");
        assert!(PortRange::parse("300-200").is_err() && PortRange::parse("x").is_err());
        let a = ServiceIps::new(r, 0, 2).with_node_ports(ports);
        let b = ServiceIps::new(r, 1, 2).with_node_ports(ports);
        let mut got: Vec<u16> = (0..2)
            .flat_map(|_| {
                [
                    a.allocate_port(&HashSet::new()),
                    b.allocate_port(&HashSet::new()),
                ]
            })
            .map(Option::unwrap)
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [30000, 30001, 30002, 30003],
            "disjoint stripes cover the range"
        );
        let stored: HashSet<u16> = got.iter().copied().collect();
        assert_eq!(a.allocate_port(&stored), None, "range full");
        a.port_done(30002);
        let stored: HashSet<u16> = [30000, 30001, 30003].into();
        assert_eq!(a.allocate_port(&stored), Some(30002));
        let lone = ServiceIps::new(r, 0, 2).with_node_ports(ports);
        let used: HashSet<u16> = [30000, 30002].into();
        assert_eq!(
            lone.allocate_port(&used).map(|p| p % 2),
            Some(1),
            "a full stripe borrows from the rest of the range"
        );
        assert!(IpRange::parse("10.0.0.0").is_err());
    }
}
