//! What to do with one query: answer it from the container's names, forward
//! it upstream, or drop it. Pure: no I/O, so every rule is unit-tested.
//!
//! The rules are those of dockerd's embedded resolver (libnetwork's
//! resolver), checked against dockerd 20.10:
//! - A: the known addresses (TTL 600), rotated between answers;
//! - AAAA: the known IPv6 addresses; a name known only with IPv4 gets an
//!   empty NOERROR answer, not forwarded;
//! - MX for a known name: an empty NOERROR answer ("implicit MX");
//! - PTR for an address of a known container: `name.network.`;
//! - an unknown single-label A/AAAA name when the container set ndots > 0:
//!   an empty NOERROR answer (the client then tries its search domains);
//! - everything else is forwarded.
//!
//! Answers copy the query's ID, opcode, RD and CD, set RA, carry no EDNS
//! record and, over UDP, are cut to the client's size (512 bytes, or its
//! EDNS size if larger) with TC set, dropping answers from the end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::Names;

/// dockerd's TTL for the records it answers itself.
pub const TTL: u32 = 600;

/// The smallest UDP answer size any client accepts.
const MIN_UDP_SIZE: usize = 512;

/// The largest DNS message (TCP's two-byte length prefix).
const MAX_TCP_SIZE: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Forward the query upstream; the ID is for a failure answer.
    Forward(Query, u16),
    /// Not a query this resolver answers: no reply, as dockerd.
    Drop,
}

pub fn decide(packet: &[u8], names: &dyn Names, proto: Proto) -> Decision {
    let Ok(query) = Message::from_vec(packet) else {
        return Decision::Drop;
    };
    if query.metadata.message_type != MessageType::Query {
        return Decision::Drop;
    }
    let Some(q) = query.queries.first().cloned() else {
        return Decision::Drop;
    };
    let name = normalise(&q.name);
    let answers = match q.query_type {
        RecordType::A => {
            let ips = names.ipv4(&name);
            if ips.is_empty() {
                unknown_ip_name(&name, names)
            } else {
                Some(rotate(ips).map(|ip| RData::A(A(ip))).collect())
            }
        }
        RecordType::AAAA => {
            let ips: Vec<Ipv6Addr> = names.ipv6(&name);
            if !ips.is_empty() {
                Some(rotate(ips).map(|ip| RData::AAAA(AAAA(ip))).collect())
            } else if !names.ipv4(&name).is_empty() {
                Some(Vec::new())
            } else {
                unknown_ip_name(&name, names)
            }
        }
        RecordType::MX => {
            let known = !names.ipv4(&name).is_empty() || !names.ipv6(&name).is_empty();
            known.then(Vec::new)
        }
        RecordType::PTR => reverse_ip(&name)
            .and_then(|ip| names.ptr(ip))
            .and_then(|host| Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok())
            .map(|host| vec![RData::PTR(PTR(host))]),
        _ => None,
    };
    let Some(answers) = answers else {
        return Decision::Forward(q, query.metadata.id);
    };
    let mut reply = reply_to(&query);
    reply.add_query(q.clone());
    for rdata in answers {
        reply.add_answer(Record::from_rdata(q.name.clone(), TTL, rdata));
    }
    let max = match proto {
        Proto::Tcp => MAX_TCP_SIZE,
        Proto::Udp => usize::from(query.max_payload()).max(MIN_UDP_SIZE),
    };
    match encode_within(reply, max, proto) {
        Some(bytes) => Decision::Reply(bytes),
        None => Decision::Drop,
    }
}

/// A failure answer (SERVFAIL) to a query that could not be forwarded.
pub fn failure(id: u16, q: Query) -> Option<Vec<u8>> {
    let mut reply =
        Message::error_msg(id, hickory_proto::op::OpCode::Query, ResponseCode::ServFail);
    reply.metadata.recursion_available = true;
    reply.metadata.recursion_desired = true;
    reply.add_query(q);
    reply.to_vec().ok()
}

/// An A/AAAA name nobody on the container's networks has.
fn unknown_ip_name(name: &str, names: &dyn Names) -> Option<Vec<RData>> {
    (names.ndots_set() && !name.contains('.')).then(Vec::new)
}

fn reply_to(query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.metadata.recursion_available = true;
    reply
}

/// Encodes `reply`, dropping answers from the end until it fits in `max`
/// (TC set over UDP, as dockerd).
fn encode_within(mut reply: Message, max: usize, proto: Proto) -> Option<Vec<u8>> {
    loop {
        let bytes = reply.to_vec().ok()?;
        if bytes.len() <= max {
            return Some(bytes);
        }
        if proto == Proto::Udp {
            reply.metadata.truncation = true;
        }
        reply.answers.pop()?;
    }
}

/// The query name as [`Names`] takes it: lower-cased, no trailing dot.
fn normalise(name: &Name) -> String {
    let mut s = name.to_ascii().to_ascii_lowercase();
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// Answers rotate between queries so clients spread over a name's
/// addresses, as dockerd shuffles them.
fn rotate<T>(mut v: Vec<T>) -> impl Iterator<Item = T> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if v.len() > 1 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % v.len();
        v.rotate_left(n);
    }
    v.into_iter()
}

/// The address of a reverse name (`4.3.2.1.in-addr.arpa`, 32 nibbles of
/// `ip6.arpa`), lower-cased without the trailing dot.
pub fn reverse_ip(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let parts: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [d, c, b, a] = parts.as_slice() else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| match p.len() {
            1 => u8::from_str_radix(p, 16).ok(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // Reversed order: the last nibble of the name is the first of the address.
        if let (Some(o), [lo, hi]) = (octets.get_mut(i), pair) {
            *o = (hi << 4) | lo;
        }
    }
    Some(IpAddr::V6(Ipv6Addr::from(octets)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, OpCode};

    struct Net;

    impl Names for Net {
        fn ipv4(&self, name: &str) -> Vec<Ipv4Addr> {
            match name {
                "web" | "web.front" | "www" => vec![Ipv4Addr::new(172, 30, 0, 2)],
                "v6" => vec![Ipv4Addr::new(172, 30, 0, 3)],
                "many" => (1..=60).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
                _ => vec![],
            }
        }
        fn ipv6(&self, name: &str) -> Vec<Ipv6Addr> {
            match name {
                "v6" => vec!["fd00::3".parse().unwrap()],
                _ => vec![],
            }
        }
        fn ptr(&self, ip: IpAddr) -> Option<String> {
            (ip == IpAddr::V4(Ipv4Addr::new(172, 30, 0, 2))).then(|| "web.front".to_string())
        }
    }

    struct Ndots;

    impl Names for Ndots {
        fn ipv4(&self, _: &str) -> Vec<Ipv4Addr> {
            vec![]
        }
        fn ipv6(&self, _: &str) -> Vec<Ipv6Addr> {
            vec![]
        }
        fn ptr(&self, _: IpAddr) -> Option<String> {
            None
        }
        fn ndots_set(&self) -> bool {
            true
        }
    }

    fn query(name: &str, t: RecordType) -> Message {
        let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m
    }

    fn ask(names: &dyn Names, m: &Message, proto: Proto) -> Decision {
        decide(&m.to_vec().unwrap(), names, proto)
    }

    fn reply(d: Decision) -> Message {
        match d {
            Decision::Reply(b) => Message::from_vec(&b).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn a_record_of_a_known_name_case_insensitively() {
        let r = reply(ask(&Net, &query("WeB.", RecordType::A), Proto::Udp));
        assert_eq!(r.metadata.id, 0x1234);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.recursion_available && r.metadata.recursion_desired);
        assert!(!r.metadata.authoritative && !r.metadata.truncation);
        assert_eq!(r.queries.len(), 1);
        assert_eq!(r.answers.len(), 1);
        let a = &r.answers[0];
        assert_eq!(a.ttl, 600);
        // The answer's name is the query's, as asked.
        assert_eq!(a.name.to_ascii(), "WeB.");
        assert_eq!(a.data, RData::A(A(Ipv4Addr::new(172, 30, 0, 2))));
        assert!(r.edns.is_none());
    }

    #[test]
    fn network_scoped_names_and_aliases() {
        for n in ["web.front.", "www."] {
            let r = reply(ask(&Net, &query(n, RecordType::A), Proto::Udp));
            assert_eq!(r.answers.len(), 1, "{n}");
        }
    }

    #[test]
    fn unknown_names_are_forwarded() {
        for (n, t) in [
            ("db.", RecordType::A),
            ("db.", RecordType::AAAA),
            ("web.", RecordType::TXT),
            ("db.", RecordType::MX),
            ("9.9.9.9.in-addr.arpa.", RecordType::PTR),
            ("example.com.", RecordType::PTR),
        ] {
            let m = query(n, t);
            match ask(&Net, &m, Proto::Udp) {
                Decision::Forward(q, id) => {
                    assert_eq!(q.query_type, t);
                    assert_eq!(id, 0x1234);
                }
                other => panic!("{n} {t:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn aaaa_of_an_ipv4_only_name_is_empty_noerror() {
        let r = reply(ask(&Net, &query("web.", RecordType::AAAA), Proto::Udp));
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        let r = reply(ask(&Net, &query("v6.", RecordType::AAAA), Proto::Udp));
        assert_eq!(
            r.answers[0].data,
            RData::AAAA(AAAA("fd00::3".parse().unwrap()))
        );
    }

    #[test]
    fn mx_of_a_known_name_is_empty_noerror() {
        let r = reply(ask(&Net, &query("web.", RecordType::MX), Proto::Udp));
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
    }

    #[test]
    fn ptr_of_a_known_address() {
        let r = reply(ask(
            &Net,
            &query("2.0.30.172.in-addr.arpa.", RecordType::PTR),
            Proto::Udp,
        ));
        assert_eq!(r.answers[0].ttl, 600);
        assert_eq!(
            r.answers[0].data,
            RData::PTR(PTR(Name::from_ascii("web.front.").unwrap()))
        );
    }

    #[test]
    fn ndots_set_keeps_single_labels_local() {
        let r = reply(ask(&Ndots, &query("db.", RecordType::A), Proto::Udp));
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        assert!(matches!(
            ask(&Ndots, &query("db.example.", RecordType::A), Proto::Udp),
            Decision::Forward(..)
        ));
    }

    #[test]
    fn udp_answers_are_cut_to_512_with_tc() {
        let m = query("many.", RecordType::A);
        match ask(&Net, &m, Proto::Udp) {
            Decision::Reply(b) => {
                assert!(b.len() <= 512, "{}", b.len());
                let r = Message::from_vec(&b).unwrap();
                assert!(r.metadata.truncation);
                assert!(!r.answers.is_empty() && r.answers.len() < 60);
            }
            other => panic!("{other:?}"),
        }
        let r = reply(ask(&Net, &m, Proto::Tcp));
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 60);
    }

    #[test]
    fn udp_answers_use_the_edns_size() {
        let mut m = query("many.", RecordType::A);
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        m.set_edns(edns);
        let r = reply(ask(&Net, &m, Proto::Udp));
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 60);
    }

    #[test]
    fn answers_rotate() {
        let firsts: std::collections::HashSet<_> = (0..5)
            .map(|_| {
                reply(ask(&Net, &query("many.", RecordType::A), Proto::Tcp)).answers[0]
                    .data
                    .clone()
            })
            .map(|d| format!("{d:?}"))
            .collect();
        assert!(firsts.len() > 1);
    }

    #[test]
    fn garbage_and_responses_are_dropped() {
        assert_eq!(decide(b"\x00\x01", &Net, Proto::Udp), Decision::Drop);
        let mut m = query("web.", RecordType::A);
        m.metadata.message_type = MessageType::Response;
        assert_eq!(ask(&Net, &m, Proto::Udp), Decision::Drop);
        let empty = Message::new(7, MessageType::Query, OpCode::Query);
        assert_eq!(ask(&Net, &empty, Proto::Udp), Decision::Drop);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_ip("4.3.2.1.in-addr.arpa"),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(reverse_ip("3.2.1.in-addr.arpa"), None);
        assert_eq!(reverse_ip("x.3.2.1.in-addr.arpa"), None);
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(reverse_ip(v6), Some("fd00::1".parse().unwrap()));
        assert_eq!(reverse_ip("1.ip6.arpa"), None);
        assert_eq!(reverse_ip("example.com"), None);
    }
}
