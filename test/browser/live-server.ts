/**
 * Debian's jupyter-server on loopback with a token and our kernelspec (test/integration's
 * private Jupyter environment), also serving the bundled live page from its own origin under
 * /static/ (extra_static_paths), so the page needs no CORS exceptions.
 */
import { startJupyterServer, type RunningServer } from "../integration/jupyter-server.js";

export interface LiveServer extends RunningServer {
  /** The live page's URL, token included. */
  pageUrl: string;
}

export async function startLiveServer(pageDir: string): Promise<LiveServer> {
  const server = await startJupyterServer({ extraArgs: ["--ServerApp.extra_static_paths", pageDir] });
  return { ...server, pageUrl: `${server.baseUrl}static/index.html?token=${server.token}` };
}
