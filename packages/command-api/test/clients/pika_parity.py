"""RabbitMQ-parity scenarios with pika (a non-JavaScript client).

Run against one broker: `python3 pika_parity.py <port>`; prints one JSON object with what
the client saw. The test runs it against RabbitMQ and against the gateway and compares.
"""
import json
import sys
import time
import uuid

import pika

PORT = int(sys.argv[1])
PARAMS = pika.ConnectionParameters(
    '127.0.0.1', PORT, credentials=pika.PlainCredentials('guest', 'guest'), heartbeat=0
)


def connect():
    return pika.BlockingConnection(PARAMS)


def name():
    return 'pika-' + str(uuid.uuid4())


def refused(op):
    """Runs op on a fresh connection; the broker's reply code and text, or 'ok'."""
    conn = connect()
    ch = conn.channel()
    try:
        op(ch)
        return 'ok'
    except pika.exceptions.ChannelClosedByBroker as e:
        return [e.reply_code, e.reply_text]
    except pika.exceptions.ConnectionClosedByBroker as e:
        return [e.reply_code, e.reply_text]
    finally:
        if conn.is_open:
            conn.close()


out = {}
conn = connect()
ch = conn.channel()

# topic: '*' does not match the empty routing key, '#' does.
x = name()
ch.exchange_declare(x, 'topic', auto_delete=False)
star = ch.queue_declare('', exclusive=True).method.queue
ch.queue_bind(star, x, '*')
hashq = ch.queue_declare('', exclusive=True).method.queue
ch.queue_bind(hashq, x, '#')
for key in ['', 'a', 'a.b']:
    ch.basic_publish(x, key, key.encode())
ch.queue_declare(star, passive=True)  # a round trip: the publishes are routed
out['topic'] = {
    'star': ch.queue_declare(star, passive=True).method.message_count,
    'hash': ch.queue_declare(hashq, passive=True).method.message_count,
}
ch.exchange_delete(x)

# The empty queue name is the queue last declared on the channel.
out['no_previous'] = refused(lambda c: c.basic_get(''))
q = ch.queue_declare('', exclusive=True).method.queue
ch.queue_bind('', 'amq.direct', 'pika-key')
ch.basic_publish('amq.direct', 'pika-key', b'via-empty-name')
ch.queue_declare(q, passive=True)
method, _props, body = ch.basic_get('', auto_ack=True)
out['empty_name'] = [body.decode(), method.routing_key, ch.queue_purge('').method.message_count]

# Queue arguments are checked as RabbitMQ checks them.
fixed = name()
out['bad_args'] = [
    refused(lambda c, a=a: c.queue_declare(fixed, exclusive=True, arguments=a))
    for a in [{'x-message-ttl': 'abc'}, {'x-max-length': -1}, {'x-overflow': 'sideways'}, {'x-expires': 0}]
]

# basic.nack with multiple requeues everything up to the tag.
for body in [b'a', b'b', b'c']:
    ch.basic_publish('', q, body)
ch.queue_declare(q, passive=True)
tags = [ch.basic_get(q)[0].delivery_tag for _ in range(3)]
ch.basic_nack(tags[1], multiple=True, requeue=True)
again = []
while True:
    m, _p, b = ch.basic_get(q, auto_ack=True)
    if m is None:
        break
    again.append([b.decode(), m.redelivered])
out['nack_multiple'] = sorted(again)

# qos global limits the channel; channel.flow active=true is answered.
ch2 = conn.channel()
queues = [ch2.queue_declare('', exclusive=True).method.queue for _ in range(2)]
for qq in queues:
    for i in range(4):
        ch2.basic_publish('', qq, str(i).encode())
ch2.basic_qos(prefetch_count=3, global_qos=True)
got = []
for qq in queues:
    ch2.basic_consume(qq, lambda c, m, p, b: got.append(b))
deadline = time.monotonic() + 0.5
while time.monotonic() < deadline:
    conn.process_data_events(time_limit=0.1)
out['qos_global'] = len(got)
out['flow'] = ch2.flow(True)

# Exchange-to-exchange bindings, a headers exchange and an alternate exchange.
ch3 = conn.channel()
ch3.confirm_delivery()
src, dst, ae, hx = name(), name(), name(), name()
ch3.exchange_declare(ae, 'fanout')
ch3.exchange_declare(src, 'direct', arguments={'alternate-exchange': ae})
ch3.exchange_declare(dst, 'fanout')
ch3.exchange_declare(hx, 'headers')
ch3.exchange_bind(dst, src, 'k')
ch3.exchange_bind(hx, dst, '')
inbox = {}
for label, exchange, args in [
    ('via_dst', dst, None),
    ('spill', ae, None),
    ('h_all', hx, {'x-match': 'all', 'kind': 'a', 'n': 1}),
    ('h_any', hx, {'x-match': 'any', 'kind': 'a', 'n': 1}),
]:
    qn = ch3.queue_declare('', exclusive=True).method.queue
    ch3.queue_bind(qn, exchange, '', arguments=args)
    inbox[label] = qn
for key, headers in [('k', {'kind': 'a', 'n': 1}), ('k', {'kind': 'a'}), ('other', {'kind': 'a', 'n': 1})]:
    ch3.basic_publish(src, key, json.dumps([key, headers]).encode(), pika.BasicProperties(headers=headers))
seen = {}
for label, qn in inbox.items():
    seen[label] = []
    while True:
        m, _p, b = ch3.basic_get(qn, auto_ack=True)
        if m is None:
            break
        seen[label].append(json.loads(b))
out['exchanges'] = seen
out['bad_x_match'] = refused(lambda c: c.queue_bind(c.queue_declare('', exclusive=True).method.queue, hx, '', arguments={'x-match': 'some'}))
for x in [src, dst, ae, hx]:
    ch3.exchange_delete(x)

# Transactions: publishes and acks land at tx.commit, vanish at tx.rollback.
ch4 = conn.channel()
tq = ch4.queue_declare('', exclusive=True).method.queue
ch4.tx_select()
ch4.basic_publish('', tq, b't1')
counts = [ch.queue_declare(tq, passive=True).method.message_count]
ch4.tx_commit()
counts.append(ch.queue_declare(tq, passive=True).method.message_count)
ch4.basic_publish('', tq, b't2')
ch4.tx_rollback()
counts.append(ch.queue_declare(tq, passive=True).method.message_count)
out['tx'] = counts
out['tx_not_selected'] = refused(lambda c: c.tx_commit())

# Dead-lettering: a rejected and an expired message reach the DLX with x-death.
dlx = name()
ch.exchange_declare(dlx, 'fanout')
dq = ch.queue_declare('', exclusive=True).method.queue
ch.queue_bind(dq, dlx, '')
sq = ch.queue_declare(name(), exclusive=True, arguments={'x-dead-letter-exchange': dlx}).method.queue
ch.basic_publish('', sq, b'rejected')
ch.queue_declare(sq, passive=True)
ch.basic_reject(ch.basic_get(sq)[0].delivery_tag, requeue=False)
ch.basic_publish('', sq, b'expired', pika.BasicProperties(expiration='20'))
time.sleep(0.3)
ch.queue_declare(sq, passive=True)
dead = []
while True:
    m, p, b = ch.basic_get(dq, auto_ack=True)
    if m is None:
        break
    death = p.headers['x-death'][0]
    dead.append([b.decode(), m.exchange == dlx, death['reason'], death['count'], death.get('original-expiration')])
out['dead_letters'] = dead
ch.exchange_delete(dlx)

# Single active consumer and consumer priorities.
ch5 = conn.channel()
sac = ch5.queue_declare('', exclusive=True, arguments={'x-single-active-consumer': True}).method.queue
pri = ch5.queue_declare('', exclusive=True).method.queue
ch5.basic_qos(prefetch_count=1)
seen5 = {'first': [], 'second': [], 'low': [], 'high': []}
ch5.basic_consume(sac, lambda c, m, p, b: seen5['first'].append(b.decode()), auto_ack=True)
ch5.basic_consume(sac, lambda c, m, p, b: seen5['second'].append(b.decode()), auto_ack=True)
ch5.basic_consume(pri, lambda c, m, p, b: seen5['low'].append(b.decode()))
ch5.basic_consume(pri, lambda c, m, p, b: seen5['high'].append(b.decode()), arguments={'x-priority': 3})
for i in range(3):
    ch5.basic_publish('', sac, str(i).encode())
    ch5.basic_publish('', pri, str(i).encode())
deadline = time.monotonic() + 0.5
while time.monotonic() < deadline:
    conn.process_data_events(time_limit=0.1)
out['consumers'] = seen5

conn.close()
print(json.dumps(out))
