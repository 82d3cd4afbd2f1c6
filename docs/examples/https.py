"""How-to: HTTPS on both sides, with a test certificate authority (trustme)."""

import ssl
from functools import partial

import trio
import trustme

import trio_webkit
from trio_webkit import Request, Response


async def hello(request: Request) -> Response:
    return Response(200, body=f"hello over {request.scheme}\n")


async def main() -> None:
    # A throw-away certificate authority, and a certificate it signs for 127.0.0.1.
    # In production: your real certificate and key (see below) and no custom CA.
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)  # = load_cert_chain(certfile, keyfile)
    server = trio_webkit.Server(hello)

    async with trio.open_nursery() as nursery:
        serve_https = partial(server.serve_tcp, ssl_context=server_context)
        listeners = await nursery.start(serve_https, 0, "127.0.0.1")
        url = f"https://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"

        # A client that trusts the test CA (as well as nothing else).
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)  # = load_verify_locations(cafile)
        async with trio_webkit.Client(ssl_context=client_context) as client:
            response = await client.get(url)
            print(response.status, response.text.strip())

        # The default client verifies with the system's CAs, which never
        # signed this certificate: the handshake fails, and says why.
        try:
            await trio_webkit.get(url)
        except trio_webkit.ConnectError as error:
            verify_failed = "certificate verify failed" in str(error)
            print(f"{type(error).__name__} in phase {error.phase}, verify failed: {verify_failed}")

        await server.shutdown()


trio.run(main)
