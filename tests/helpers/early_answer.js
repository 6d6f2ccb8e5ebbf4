// A node (libuv) server that answers the first chunk of a request and
// closes at once, the rest of the request unread.  Prints "listening PORT".
const net = require('net');
const server = net.createServer(c => {
  c.once('data', () => { c.write('413 too large\n', () => c.destroy()); });
});
server.listen(0, '127.0.0.1', () => { console.log('listening ' + server.address().port); });
