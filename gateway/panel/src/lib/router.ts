/** Hash routes (`#/device/pump-1`): no server-side routing needed, links work with the keyboard and the back button. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  readonly page: 'overview' | 'device' | 'alarms' | 'work-orders' | 'cameras';
  readonly arg?: string;
  readonly query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const [pathPart = '', queryPart = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page, arg] = pathPart.split('/');
  const query = new URLSearchParams(queryPart);
  switch (page) {
    case 'device':
      return { page: 'device', arg: decodeURIComponent(arg ?? ''), query };
    case 'alarms':
    case 'work-orders':
    case 'cameras':
      return { page, query };
    default:
      return { page: 'overview', query };
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
