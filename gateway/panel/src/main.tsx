/** Entry of the control-room panel (issue 8): Preact, rendered into #app. */
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';
import 'uplot/dist/uPlot.min.css';

render(<App />, document.getElementById('app')!);
